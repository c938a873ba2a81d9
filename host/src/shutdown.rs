//! Graceful shutdown as a small value passed to whoever must stop.
//!
//! On SIGTERM the service first *drains*: readiness turns 503, no new connections or streams are
//! accepted, running streams continue. After the grace period (`SHUTDOWN_GRACE_SECONDS`, 5 s) the
//! *deadline* passes: streams still running end with an `error` event and persist what they have.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    draining: CancellationToken,
    deadline: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts draining now and passes the deadline after `grace`. Calling it again does nothing.
    pub fn begin(&self, grace: Duration) {
        if self.draining.is_cancelled() {
            return;
        }
        self.draining.cancel();
        let deadline = self.deadline.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            deadline.cancel();
        });
    }

    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Resolves when draining starts.
    pub async fn draining(&self) {
        self.draining.cancelled().await
    }

    /// Resolves when the grace period is over.
    pub async fn deadline(&self) {
        self.deadline.cancelled().await
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
