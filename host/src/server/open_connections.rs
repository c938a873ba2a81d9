//! The cap on open connections (`HTTP_MAX_CONNECTIONS`). Each served connection holds a
//! [`ConnectionSlot`]; a connection accepted while every slot is taken is closed at once (and
//! counted), so the descriptors and memory the service spends on clients stay bounded, and a
//! normal request is served again as soon as any connection ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How often, at most, refusals are logged (each line says how many there were).
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The open connections of this instance.
#[derive(Clone, Debug)]
pub struct OpenConnections {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    open: AtomicUsize,
    max: usize,
    refused_unlogged: AtomicU64,
    last_logged: Mutex<Option<Instant>>,
}

impl OpenConnections {
    pub fn new(max: usize) -> OpenConnections {
        OpenConnections {
            inner: Arc::new(Inner {
                open: AtomicUsize::new(0),
                max,
                refused_unlogged: AtomicU64::new(0),
                last_logged: Mutex::new(None),
            }),
        }
    }

    /// A slot for a newly accepted connection, or `None` (the caller closes it) when all are taken.
    pub fn admit(&self) -> Option<ConnectionSlot> {
        let admitted = self
            .inner
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| (open < self.inner.max).then_some(open + 1));
        match admitted {
            Ok(before) => {
                metrics::gauge!("http_connections_open").set((before + 1) as f64);
                Some(ConnectionSlot { connections: self.clone() })
            }
            Err(_) => {
                self.refused();
                None
            }
        }
    }

    fn refused(&self) {
        metrics::counter!("http_connections_refused_total").increment(1);
        self.inner.refused_unlogged.fetch_add(1, Ordering::Relaxed);
        let mut last = self.inner.last_logged.lock();
        if last.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(
                refused = self.inner.refused_unlogged.swap(0, Ordering::Relaxed),
                max = self.inner.max,
                "open connections at HTTP_MAX_CONNECTIONS; closing new ones"
            );
        }
    }
}

/// Keeps one connection counted while it is served.
#[derive(Debug)]
pub struct ConnectionSlot {
    connections: OpenConnections,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let left = self.connections.inner.open.fetch_sub(1, Ordering::AcqRel) - 1;
        metrics::gauge!("http_connections_open").set(left as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_over_the_cap_are_refused_until_one_ends() {
        let connections = OpenConnections::new(2);
        let first = connections.admit().expect("a free slot");
        let _second = connections.admit().expect("a free slot");
        assert!(connections.admit().is_none(), "the cap is reached");
        assert!(connections.admit().is_none());
        drop(first);
        assert!(connections.admit().is_some(), "a slot freed");
    }
}
