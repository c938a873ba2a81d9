//! Removing a plugin everywhere (the admin API's `DELETE /admin/plugins/{name}`). Here, the plugin
//! stops serving and its directories in `PLUGINS_DIR` are deleted. In the database, its active
//! entry goes and its name is recorded as removed ([`Store::plugin_remove`]); every instance applies
//! that with the rest of the shared set ([`Registry::apply_removals`]), so the plugin disappears
//! from all of them, the copy baked into their plugins directory included, until it is uploaded
//! again. Its stored versions stay, as history.

use std::path::{Path, PathBuf};

use store::Store;

use super::files::dir_name;
use super::reconcile::{Control, count_reload};
use super::{Registry, RegistryError, ReloadOutcome, ReloadReport};

impl Registry {
    /// Removes plugin `name` here and from the shared set. `NotFound` when neither this instance
    /// nor the database knows it. The report names what served (version and sha256).
    pub async fn remove(&self, name: &str) -> Result<ReloadReport, RegistryError> {
        let mut control = self.control.lock().await;
        let active = match self.store() {
            Some(store) => store.plugin_active(name).await?,
            None => None,
        };
        if !control.loaded.contains_key(name) && rejected_dirs(&control, name).is_empty() && active.is_none() {
            return Err(RegistryError::NotFound(name.to_string()));
        }
        if let Some(store) = self.store() {
            store.plugin_remove(name).await?;
        }
        let mut removed = self.remove_here(&mut control, name).await;
        if removed.sha256.is_none() {
            removed.sha256 = active.map(|a| a.key.sha256);
        }
        Ok(removed)
    }

    /// Drops every plugin the database lists as removed that this instance still has (the last
    /// step of applying the database's set).
    pub(super) async fn apply_removals(
        &self,
        control: &mut Control,
        store: &Store,
    ) -> Result<Vec<ReloadReport>, RegistryError> {
        let mut reports = Vec::new();
        for name in store.plugin_removed_set().await? {
            if control.loaded.contains_key(&name) || !rejected_dirs(control, &name).is_empty() {
                reports.push(self.remove_here(control, &name).await);
            }
        }
        Ok(reports)
    }

    /// Stops serving plugin `name`, forgets its rejected loads, and deletes their directories.
    async fn remove_here(&self, control: &mut Control, name: &str) -> ReloadReport {
        let mut dirs = rejected_dirs(control, name);
        for dir in &dirs {
            control.rejected.remove(dir);
        }
        let served = control.loaded.remove(name).map(|slot| slot.current);
        if let Some(plugin) = &served {
            dirs.push(plugin.dir.clone());
            self.publish(control);
        }
        let root = self.plugins_dir();
        for dir in dirs.iter().filter(|dir| is_plugin_dir_of(root, dir)) {
            let doomed = dir.clone();
            match tokio::task::spawn_blocking(move || delete_plugin_dir(&doomed)).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::error!(plugin = name, dir = %dir.display(), error = %err, "cannot delete a removed plugin's directory")
                }
                Err(err) => {
                    tracing::error!(plugin = name, error = %err, "deleting a removed plugin's directory panicked")
                }
            }
        }
        count_reload(name.to_string(), ReloadOutcome::Removed);
        tracing::info!(plugin = name, "plugin removed through the admin API");
        let dir = dirs.first().cloned().unwrap_or_else(|| self.dir_for(control, name));
        let mut removed = ReloadReport::new(ReloadOutcome::Removed, &dir, served.as_deref(), None);
        removed.plugin = Some(name.to_string());
        removed
    }
}

/// The directories whose failed load was plugin `name` (by its manifest's name, or else by the
/// directory's), as [`Registry::reload`] finds them.
pub(super) fn rejected_dirs(control: &Control, name: &str) -> Vec<PathBuf> {
    control
        .rejected
        .values()
        .filter(|r| r.plugin.as_deref() == Some(name) || (r.plugin.is_none() && dir_name(&r.dir) == name))
        .map(|r| r.dir.clone())
        .collect()
}

/// Whether `dir` is a plugin directory of `root` (its child, not hidden): only those are deleted.
fn is_plugin_dir_of(root: &Path, dir: &Path) -> bool {
    dir.parent() == Some(root) && !dir_name(dir).starts_with('.') && !dir_name(dir).is_empty()
}

/// Deletes a plugin directory: renamed to a hidden name first (the watcher ignores it, so it never
/// sees half a plugin), then removed.
fn delete_plugin_dir(dir: &Path) -> std::io::Result<()> {
    let Some(parent) = dir.parent() else { return Ok(()) };
    if !dir.exists() {
        return Ok(());
    }
    let hidden = parent.join(format!(".removed-{}", uuid::Uuid::new_v4().simple()));
    std::fs::rename(dir, &hidden)?;
    std::fs::remove_dir_all(&hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_children_of_the_plugins_directory_are_deleted() {
        let root = Path::new("/srv/plugins.d");
        assert!(is_plugin_dir_of(root, Path::new("/srv/plugins.d/mapper")));
        assert!(!is_plugin_dir_of(root, Path::new("/srv/plugins.d/.cache")));
        assert!(!is_plugin_dir_of(root, Path::new("/srv/plugins.d")));
        assert!(!is_plugin_dir_of(root, Path::new("/srv")));
        assert!(!is_plugin_dir_of(root, Path::new("/srv/plugins.d/mapper/inner")));
        assert!(!is_plugin_dir_of(root, Path::new("/elsewhere/mapper")));
    }

    #[test]
    fn a_deleted_directory_is_gone_and_its_siblings_stay() {
        let root = tempfile::tempdir().unwrap();
        for dir in ["gone", "kept"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
            std::fs::write(root.path().join(dir).join("plugin.toml"), "name = \"x\"").unwrap();
        }
        delete_plugin_dir(&root.path().join("gone")).unwrap();
        delete_plugin_dir(&root.path().join("never-there")).unwrap();
        let left: Vec<String> =
            std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert_eq!(left, ["kept"]);
    }
}
