//! The registry's work between requests: applying the plugin directories the watcher reports, and
//! polling the database's plugin set (uploads and rollbacks made through other instances) and the
//! plugins' settings and secrets (changed through other instances). Both
//! run as tasks owned by one [`Background`], which the registry keeps; dropping it (with the
//! registry) stops both tasks, and the watch with them. The tasks hold only a weak reference to
//! the registry, so they never keep it alive.

use std::sync::{Arc, Weak};
use std::time::Duration;

use store::Store;
use tokio::task::JoinSet;

use super::Registry;
use crate::watcher::Watcher;

/// The registry's background tasks; dropping this stops them.
pub(super) struct Background {
    tasks: JoinSet<()>,
}

impl Background {
    /// Follows `watcher`'s batches (when watching) and polls the database every `poll_interval`
    /// (when there is a database to poll).
    pub(super) fn start(
        registry: &Arc<Registry>,
        watcher: Option<Watcher>,
        poll_interval: Option<Duration>,
    ) -> Background {
        let mut tasks = JoinSet::new();
        if let Some(watcher) = watcher {
            tasks.spawn(follow_directory(Arc::downgrade(registry), watcher));
        }
        if let Some(interval) = poll_interval {
            tasks.spawn(poll_database(Arc::downgrade(registry), interval));
        }
        Background { tasks }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// Reloads the plugin directories the watcher saw change, batch by batch.
async fn follow_directory(registry: Weak<Registry>, mut watcher: Watcher) {
    while let Some(dirs) = watcher.changed().await {
        let Some(registry) = registry.upgrade() else { break };
        registry.reconcile_dirs(dirs).await;
    }
}

/// Applies the database's active set, and the plugins' values, whenever their generation changed,
/// checking every `interval` once the initial load is done. Stops early when the database is closed.
async fn poll_database(registry: Weak<Registry>, interval: Duration) {
    if let Some(registry) = registry.upgrade() {
        registry.wait_ready().await;
    }
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(registry) = registry.upgrade() else { break };
        // Values first: a plugin uploaded after its new secret was set loads with it.
        let followed = match registry.follow_values().await {
            Ok(_) => registry.follow_database().await.map(drop),
            Err(err) => Err(err),
        };
        if let Err(err) = followed {
            if registry.store().is_none_or(Store::is_closed) {
                break;
            }
            tracing::warn!(error = %err, "cannot apply the database's plugin set or the plugins' values");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_the_handle_stops_its_tasks() {
        let (alive, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut background = Background { tasks: JoinSet::new() };
        background.tasks.spawn(async move {
            let _alive = alive;
            std::future::pending::<()>().await;
        });
        drop(background);
        // The task was aborted, so its end of the channel is gone.
        let ended = tokio::time::timeout(Duration::from_secs(5), stopped).await;
        assert!(matches!(ended, Ok(Err(_))), "the task still runs");
    }
}
