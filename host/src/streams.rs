//! Counting of open SSE streams, with the runbook's warning (150) and critical (200) log lines.
//! Each stream holds a [`StreamGuard`]; dropping it (the stream ended, however it ended) counts down.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

#[derive(Clone, Debug)]
pub struct StreamTracker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    active: AtomicUsize,
    warn_at: usize,
    critical_at: usize,
    idle: Notify,
}

impl StreamTracker {
    pub fn new(warn_at: usize, critical_at: usize) -> Self {
        StreamTracker {
            inner: Arc::new(Inner { active: AtomicUsize::new(0), warn_at, critical_at, idle: Notify::new() }),
        }
    }

    /// Registers a new stream.
    pub fn open(&self) -> StreamGuard {
        let now = self.inner.active.fetch_add(1, Ordering::SeqCst) + 1;
        metrics::gauge!("chat_sse_connections_active").set(now as f64);
        if now == self.inner.critical_at || (now > self.inner.critical_at && now.is_multiple_of(50)) {
            tracing::error!(active = now, threshold = self.inner.critical_at, "SSE connections at critical level");
        } else if now == self.inner.warn_at {
            tracing::warn!(active = now, threshold = self.inner.warn_at, "SSE connections at warning level");
        }
        StreamGuard { tracker: self.clone() }
    }

    pub fn active(&self) -> usize {
        self.inner.active.load(Ordering::SeqCst)
    }

    /// Resolves once no stream is open.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.active() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Keeps a stream counted while alive.
#[derive(Debug)]
pub struct StreamGuard {
    tracker: StreamTracker,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let left = self.tracker.inner.active.fetch_sub(1, Ordering::SeqCst) - 1;
        metrics::gauge!("chat_sse_connections_active").set(left as f64);
        if left == 0 {
            self.tracker.inner.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn guards_count_streams_and_idle_resolves_when_all_end() {
        let t = StreamTracker::new(150, 200);
        let a = t.open();
        let b = t.open();
        assert_eq!(t.active(), 2);
        drop(a);
        let waiter = tokio::spawn({
            let t = t.clone();
            async move { t.wait_idle().await }
        });
        drop(b);
        waiter.await.unwrap();
        assert_eq!(t.active(), 0);
    }
}
