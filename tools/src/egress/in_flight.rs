//! Outgoing requests in flight. Per call, a cap (`limits.max_requests_in_flight`): a request over
//! it is refused to the guest with `connection-limit-reached`, and its slot frees when the
//! response body has been read to the end or dropped, or the call ends. Per runtime, a count of
//! every request not yet entirely gone (its sending, its response body, its connection task), as
//! the gauge `tool_egress_requests_in_flight`: a request left behind by a finished call shows
//! there.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const GAUGE: &str = "tool_egress_requests_in_flight";

/// The requests of one runtime not yet entirely gone.
#[derive(Clone, Debug, Default)]
pub struct InFlightCount(Arc<AtomicUsize>);

impl InFlightCount {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one more request until every clone of the returned token is dropped.
    pub fn track(&self) -> Arc<Tracked> {
        self.0.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!(GAUGE).increment(1.0);
        Arc::new(Tracked(self.0.clone()))
    }
}

/// One request counted in flight; dropping the last clone counts it out.
#[derive(Debug)]
pub struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!(GAUGE).decrement(1.0);
    }
}

/// The request slots of one call.
#[derive(Clone, Debug)]
pub struct RequestSlots {
    slots: Arc<Semaphore>,
    cap: u32,
}

impl RequestSlots {
    pub fn new(cap: u32) -> RequestSlots {
        RequestSlots { slots: Arc::new(Semaphore::new(cap as usize)), cap }
    }

    /// A free slot, or `None` when `cap` requests are in flight.
    pub fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    pub fn cap(&self) -> u32 {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_frees_when_dropped() {
        let slots = RequestSlots::new(2);
        let first = slots.take().unwrap();
        let _second = slots.take().unwrap();
        assert!(slots.take().is_none());
        drop(first);
        assert!(slots.take().is_some());
    }

    #[test]
    fn a_request_counts_until_its_last_part_is_gone() {
        let count = InFlightCount::default();
        let request = count.track();
        let body_part = request.clone();
        assert_eq!(count.get(), 1);
        drop(request);
        assert_eq!(count.get(), 1);
        drop(body_part);
        assert_eq!(count.get(), 0);
    }
}
