//! The periodic purge of rows nothing reads again: plugin state past its expiry and the hourly
//! rate-limit counters of past hours. Without it both tables only grow (a plugin's state is
//! capped per user while live, not once expired). One task per instance, started with the app,
//! stopped when shutdown begins; on several instances the deletes simply find less to do.

use std::time::Duration;

use store::Store;

use crate::shutdown::Shutdown;

/// Starts the purge every `interval` (the first one after `interval`); zero starts nothing.
pub fn start(store: Store, interval: Duration, shutdown: Shutdown) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.draining() => return,
                () = tokio::time::sleep(interval) => purge(&store).await,
            }
        }
    });
}

/// One pass; a failure is logged and the next pass tries again.
async fn purge(store: &Store) {
    let now = store::now();
    match store.tool_state_purge_expired(now).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "purged expired plugin state"),
        Err(err) => tracing::warn!(error = %err, "purging expired plugin state failed"),
    }
    match store.function_limits_purge_stale(now).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "purged past rate-limit windows"),
        Err(err) => tracing::warn!(error = %err, "purging past rate-limit windows failed"),
    }
}
