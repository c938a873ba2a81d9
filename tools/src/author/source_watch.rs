//! Watches an author's plugin directory for `plugins dev`: a batch of changes to its sources,
//! reported once the directory has been quiet for the debounce period (an editor's save is several
//! events). What the build itself writes is ignored — `target/`, `plugin.wasm`, `plugin.sig`,
//! hidden entries, `__pycache__` and `node_modules` — so a rebuild never triggers the next one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;

/// Names whose changes are the build's own output, never a reason to rebuild.
const IGNORED: [&str; 5] = ["target", "plugin.wasm", "plugin.sig", "__pycache__", "node_modules"];

/// A running watch of one directory; dropping it stops the watch.
pub struct SourceWatch {
    changes: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    _debouncer: Debouncer<RecommendedWatcher>,
}

impl SourceWatch {
    pub fn start(dir: &Path, debounce: Duration) -> Result<SourceWatch, String> {
        let resolved = dir.canonicalize().map_err(|err| format!("{}: {err}", dir.display()))?;
        let (report, changes) = mpsc::unbounded_channel();
        let root = resolved.clone();
        let mut debouncer = new_debouncer(debounce, move |result: DebounceEventResult| {
            if let Ok(events) = result {
                let mut changed: Vec<PathBuf> =
                    events.into_iter().filter(|e| is_source(&root, &e.path)).map(|e| e.path).collect();
                changed.sort();
                changed.dedup();
                if !changed.is_empty() {
                    let _ = report.send(changed);
                }
            }
        })
        .map_err(|err| format!("watching {}: {err}", dir.display()))?;
        debouncer
            .watcher()
            .watch(&resolved, RecursiveMode::Recursive)
            .map_err(|err| format!("watching {}: {err}", dir.display()))?;
        Ok(SourceWatch { changes, _debouncer: debouncer })
    }

    /// The next batch of changed source files.
    pub async fn changed(&mut self) -> Option<Vec<PathBuf>> {
        self.changes.recv().await
    }
}

/// Whether a change at `path` (under `root`) is one of the plugin's sources.
fn is_source(root: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    relative.components().next().is_some()
        && relative.components().all(|part| {
            let name = part.as_os_str().to_string_lossy();
            !name.starts_with('.') && !IGNORED.contains(&name.as_ref())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_outputs_are_not_sources() {
        let root = Path::new("/p");
        for source in ["/p/src/lib.rs", "/p/plugin.toml", "/p/app.py", "/p/build.sh"] {
            assert!(is_source(root, Path::new(source)), "{source}");
        }
        for output in ["/p/target/x.wasm", "/p/plugin.wasm", "/p/plugin.sig", "/p/.git/HEAD", "/p", "/q/a.rs"] {
            assert!(!is_source(root, Path::new(output)), "{output}");
        }
    }
}
