//! Watches `PLUGINS_DIR` and reports which plugin directories changed, in batches: a batch goes out
//! once the directory has been quiet for the debounce period (copying a plugin in produces a burst
//! of events; it is reported once, after the burst). Hidden entries (the artifact cache, staging
//! areas of uploads) are ignored. The watcher knows nothing of what a change means: whoever reads
//! the batches compares contents (the registry does, so events that change nothing, such as an
//! upload it wrote itself or a `touch`, reload nothing).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;

/// A running watch; dropping it stops the watch.
pub struct Watcher {
    changes: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    _debouncer: Debouncer<RecommendedWatcher>,
}

impl Watcher {
    /// Watches `dir` (created if missing). Changed directories are reported under `dir` as given,
    /// not as the file system resolves it, so they compare equal to the paths plugins are loaded from.
    pub fn start(dir: &Path, debounce: Duration) -> anyhow::Result<Watcher> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // Events carry resolved paths.
        let resolved = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
        let (report, changes) = mpsc::unbounded_channel::<Vec<PathBuf>>();
        let (watched, named) = (resolved.clone(), dir.to_path_buf());
        let mut debouncer = new_debouncer(debounce, move |result: DebounceEventResult| match result {
            Ok(events) => {
                let dirs: BTreeSet<PathBuf> =
                    events.iter().filter_map(|e| plugin_dir_of(&watched, &named, &e.path)).collect();
                if !dirs.is_empty() {
                    let _ = report.send(dirs.into_iter().collect());
                }
            }
            Err(err) => tracing::warn!(error = %err, "watching the plugins directory failed"),
        })
        .context("creating the plugins directory watcher")?;
        debouncer
            .watcher()
            .watch(&resolved, RecursiveMode::Recursive)
            .with_context(|| format!("watching {}", resolved.display()))?;
        tracing::info!(dir = %dir.display(), "watching the plugins directory");
        Ok(Watcher { changes, _debouncer: debouncer })
    }

    /// The next batch of plugin directories that changed (each once, sorted).
    pub async fn changed(&mut self) -> Option<Vec<PathBuf>> {
        self.changes.recv().await
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

    #[tokio::test]
    async fn a_new_plugin_directory_is_reported_once_the_copy_is_quiet() {
        let root = tempfile::tempdir().unwrap();
        let mut watcher = Watcher::start(root.path(), Duration::from_millis(50)).unwrap();
        std::fs::create_dir(root.path().join(".cache")).unwrap();
        std::fs::create_dir(root.path().join("echo")).unwrap();
        std::fs::write(root.path().join("echo/plugin.toml"), "name = \"echo\"").unwrap();
        std::fs::write(root.path().join("echo/plugin.wasm"), b"\0asm").unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(10), watcher.changed()).await.unwrap().unwrap();
        assert_eq!(batch, vec![root.path().join("echo")]);
    }
}
