//! Counting of open SSE responses, with the runbook's warning (150) and critical (200) log lines.
//! Each response holds a [`ConnectionGuard`]; dropping it (the response ended, however it ended)
//! counts down.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The open SSE connections of this instance.
#[derive(Clone, Debug)]
pub struct SseConnections {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    active: AtomicUsize,
    warn_at: usize,
    critical_at: usize,
}

impl SseConnections {
    pub fn new(warn_at: usize, critical_at: usize) -> Self {
        SseConnections { inner: Arc::new(Inner { active: AtomicUsize::new(0), warn_at, critical_at }) }
    }

    /// Registers a new connection.
    pub fn open(&self) -> ConnectionGuard {
        let now = self.inner.active.fetch_add(1, Ordering::SeqCst) + 1;
        metrics::gauge!("chat_sse_connections_active").set(now as f64);
        if now == self.inner.critical_at || (now > self.inner.critical_at && now.is_multiple_of(50)) {
            tracing::error!(active = now, threshold = self.inner.critical_at, "SSE connections at critical level");
        } else if now == self.inner.warn_at {
            tracing::warn!(active = now, threshold = self.inner.warn_at, "SSE connections at warning level");
        }
        ConnectionGuard { connections: self.clone() }
    }

    pub fn active(&self) -> usize {
        self.inner.active.load(Ordering::SeqCst)
    }
}

/// Keeps a connection counted while alive.
#[derive(Debug)]
pub struct ConnectionGuard {
    connections: SseConnections,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let left = self.connections.inner.active.fetch_sub(1, Ordering::SeqCst) - 1;
        metrics::gauge!("chat_sse_connections_active").set(left as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_connections_until_dropped() {
        let connections = SseConnections::new(150, 200);
        let a = connections.open();
        let b = connections.open();
        assert_eq!(connections.active(), 2);
        drop(a);
        assert_eq!(connections.active(), 1);
        drop(b);
        assert_eq!(connections.active(), 0);
    }
}
