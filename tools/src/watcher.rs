//! Watches `PLUGINS_DIR` and hands the plugin directories that changed to the registry, once the
//! directory has been quiet for the debounce period (copying a plugin in produces a burst of
//! events; it is loaded once, after the burst). Hidden entries (the artifact cache, staging areas
//! of uploads) are ignored. The registry compares contents, so events that change nothing (an
//! upload the registry wrote itself, a `touch`) do not reload anything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use anyhow::Context as _;
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use crate::registry::Registry;

/// A running watch; dropping it stops the watch.
pub struct Watcher {
    _debouncer: Debouncer<RecommendedWatcher>,
}

impl Watcher {
    pub fn start(registry: &Arc<Registry>) -> anyhow::Result<Watcher> {
        let configured = registry.plugins_dir().to_path_buf();
        std::fs::create_dir_all(&configured).with_context(|| format!("creating {}", configured.display()))?;
        // Events carry resolved paths; the registry knows directories by the configured path.
        let resolved = configured.canonicalize().with_context(|| format!("resolving {}", configured.display()))?;
        let (changes, mut receive) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
        let (watched, named) = (resolved.clone(), configured.clone());
        let mut debouncer = new_debouncer(registry.watch_debounce(), move |result: DebounceEventResult| match result {
            Ok(events) => {
                let dirs: BTreeSet<PathBuf> =
                    events.iter().filter_map(|e| plugin_dir_of(&watched, &named, &e.path)).collect();
                if !dirs.is_empty() {
                    let _ = changes.send(dirs.into_iter().collect());
                }
            }
            Err(err) => tracing::warn!(error = %err, "watching the plugins directory failed"),
        })
        .context("creating the plugins directory watcher")?;
        debouncer
            .watcher()
            .watch(&resolved, RecursiveMode::Recursive)
            .with_context(|| format!("watching {}", resolved.display()))?;

        let registry: Weak<Registry> = Arc::downgrade(registry);
        tokio::spawn(async move {
            while let Some(dirs) = receive.recv().await {
                let Some(registry) = registry.upgrade() else { break };
                registry.changed(dirs).await;
            }
        });
        tracing::info!(dir = %configured.display(), "watching the plugins directory");
        Ok(Watcher { _debouncer: debouncer })
    }
}

/// The plugin directory (`named/<first component>`) a changed path under `watched` belongs to,
/// unless it is hidden.
fn plugin_dir_of(watched: &Path, named: &Path, path: &Path) -> Option<PathBuf> {
    let relative = path.strip_prefix(watched).ok()?;
    let first = relative.components().next()?;
    if first.as_os_str().to_string_lossy().starts_with('.') {
        return None;
    }
    Some(named.join(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_map_to_their_plugin_directory() {
        let (watched, named) = (Path::new("/real/p"), Path::new("p"));
        let dir = |path: &str| plugin_dir_of(watched, named, Path::new(path));
        assert_eq!(dir("/real/p/echo/plugin.wasm"), Some(PathBuf::from("p/echo")));
        assert_eq!(dir("/real/p/echo"), Some(PathBuf::from("p/echo")));
        assert_eq!(dir("/real/p/.cache/x.cwasm"), None);
        assert_eq!(dir("/real/p"), None);
        assert_eq!(dir("/elsewhere/x"), None);
    }
}
