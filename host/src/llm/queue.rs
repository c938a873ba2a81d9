//! The bound on concurrent Claude calls (`ANTHROPIC_MAX_CONCURRENT_CALLS` per instance, and
//! `ANTHROPIC_SHARED_MAX_CALLS` across instances through Redis when `REDIS_URL` is set): a burst of
//! turns waits in line for a slot instead of reaching Anthropic all at once and coming back as
//! 429s. A call waits at most `ANTHROPIC_QUEUE_WAIT_SECONDS`; past that it counts as rate limited
//! (and falls back, when a fallback is configured). While a call waits, its stream stays alive with
//! the usual `: ping` keep-alives. The slot is held for the whole call: from the request until its
//! stream is dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::LlmError;
use super::shared_slots::{SharedSlot, SharedSlots};

/// The longest pause between two looks at a full shared budget (each look is one Redis script).
const SHARED_POLL_MAX: Duration = Duration::from_millis(100);

/// A slot in the bound (this instance's, and the shared budget's when there is one); released
/// when dropped.
pub struct CallSlot {
    _local: OwnedSemaphorePermit,
    _shared: Option<SharedSlot>,
}

#[derive(Debug, Clone)]
pub struct CallQueue {
    slots: Arc<Semaphore>,
    max_wait: Duration,
    shared: Option<Arc<SharedSlots>>,
}

impl CallQueue {
    pub fn new(max_concurrent: usize, max_wait: Duration) -> CallQueue {
        CallQueue { slots: Arc::new(Semaphore::new(max_concurrent.max(1))), max_wait, shared: None }
    }

    /// Also waits for a slot of a budget shared with other instances.
    pub fn shared(mut self, shared: SharedSlots) -> CallQueue {
        self.shared = Some(Arc::new(shared));
        self
    }

    /// Waits for a slot (this instance's first come, first served). The wait is the
    /// `chat_llm_queue_wait_seconds` histogram; giving up after the longest wait is a rate limit
    /// of ours.
    pub async fn enter(&self) -> Result<CallSlot, LlmError> {
        let started = Instant::now();
        metrics::gauge!("chat_llm_queue_waiting").increment(1.0);
        let slot = tokio::time::timeout(self.max_wait, self.wait_for_slot()).await;
        metrics::gauge!("chat_llm_queue_waiting").decrement(1.0);
        metrics::histogram!("chat_llm_queue_wait_seconds").record(started.elapsed().as_secs_f64());
        slot.map_err(|_elapsed| {
            metrics::counter!("chat_llm_queue_timeouts_total").increment(1);
            tracing::warn!(waited_ms = started.elapsed().as_millis() as u64, "no free slot for a Claude call");
            LlmError::RateLimited { retry_after: None, spend_limit: false, request_id: None }
        })
    }

    async fn wait_for_slot(&self) -> CallSlot {
        // The semaphore is never closed.
        let local = self.slots.clone().acquire_owned().await.expect("the call semaphore stays open");
        let Some(shared) = &self.shared else {
            return CallSlot { _local: local, _shared: None };
        };
        let mut pause = Duration::from_millis(5);
        loop {
            match shared.try_take().await {
                Ok(Some(slot)) => return CallSlot { _local: local, _shared: Some(slot) },
                Ok(None) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(SHARED_POLL_MAX);
                }
                Err(err) => {
                    // Degraded, not down: this instance's own bound still holds.
                    metrics::counter!("chat_llm_queue_shared_unavailable_total").increment(1);
                    tracing::warn!(error = %err, "the shared budget of Claude calls is unreachable (Redis); going on within this instance's bound");
                    return CallSlot { _local: local, _shared: None };
                }
            }
        }
    }

    /// This instance's slots free now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_line_waits_for_a_slot_and_gives_up_after_the_longest_wait() {
        let queue = CallQueue::new(1, Duration::from_millis(50));
        let held = queue.enter().await.unwrap();
        let err = queue.enter().await.err().unwrap();
        assert!(matches!(err, LlmError::RateLimited { spend_limit: false, .. }), "{err:?}");
        let waiting = {
            let queue = CallQueue { max_wait: Duration::from_secs(3600), ..queue.clone() };
            tokio::spawn(async move { queue.enter().await.map(drop) })
        };
        drop(held);
        waiting.await.unwrap().unwrap();
        assert_eq!(queue.available(), 1);
    }
}
