//! Plugin files on disk: which subdirectories of `PLUGINS_DIR` hold plugins, where an uploaded or
//! database version of a plugin is written, and how it is written (staged, then swapped in with
//! renames, so the watcher never sees half a plugin).

use std::path::{Path, PathBuf};

use super::Registry;
use super::reconcile::Control;
use crate::loader::{self, Source};
use crate::signing::SIGNATURE_FILE;

impl Registry {
    /// Where plugin `name` lives: the directory of its loaded version, else `plugins_dir/<name>`,
    /// or `plugins_dir/<name>.uploaded` when another plugin is loaded from that directory (writing
    /// there would silently replace it instead of being checked against it).
    pub(super) fn dir_for(&self, control: &Control, name: &str) -> PathBuf {
        if let Some(slot) = control.loaded.get(name) {
            return slot.current.dir.clone();
        }
        let dir = self.plugins_dir().join(name);
        if control.loaded.values().any(|slot| slot.current.dir == dir) {
            self.plugins_dir().join(format!("{name}.uploaded"))
        } else {
            dir
        }
    }
}

pub(super) fn dir_name(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The plugin directories under `root`: every subdirectory not starting with `.` (the cache,
/// staging areas).
pub(super) fn plugin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        tracing::warn!(dir = %root.display(), "the plugins directory cannot be read");
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// Writes an uploaded plugin to its directory: into a hidden staging directory first, then swapped
/// in with renames, so the watcher never sees half a plugin.
pub(super) fn write_plugin_dir(source: &Source) -> std::io::Result<()> {
    let parent = source.dir.parent().ok_or_else(|| std::io::Error::other("the plugin directory has no parent"))?;
    std::fs::create_dir_all(parent)?;
    let unique = uuid::Uuid::new_v4().simple();
    let staging = parent.join(format!(".staging-{unique}"));
    std::fs::create_dir(&staging)?;
    let written = std::fs::write(staging.join(loader::MANIFEST_FILE), &source.manifest_text)
        .and_then(|()| std::fs::write(staging.join(loader::WASM_FILE), &*source.wasm))
        .and_then(|()| match &source.signature {
            Some(signature) => std::fs::write(staging.join(SIGNATURE_FILE), signature),
            None => Ok(()),
        });
    if let Err(err) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(err);
    }
    let old = parent.join(format!(".replaced-{unique}"));
    let had_old = source.dir.exists();
    if had_old {
        std::fs::rename(&source.dir, &old)?;
    }
    if let Err(err) = std::fs::rename(&staging, &source.dir) {
        if had_old {
            let _ = std::fs::rename(&old, &source.dir);
        }
        let _ = std::fs::remove_dir_all(&staging);
        return Err(err);
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}
