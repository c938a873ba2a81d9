//! Reconciling: bringing the tool set in line with a plugin directory (a reload, a file change the
//! watcher saw) or with the database's active versions. A version is loaded completely outside
//! the registry's lock ([`Registry::load_version`]; compiling and `describe` may be slow), in its
//! plugin's load turn ([`super::loading`]: a plugin already loading is skipped, or refused to the
//! admin API); then, under the one lock ([`Control`]), it is checked against the other plugins and
//! either served and published as a new snapshot ([`Registry::accept`]) or rejected with its
//! reason ([`Registry::reject`]) while the previous version keeps serving.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Utc;
use store::{PluginVersionKey, Store};

use super::admin::{RegistryError, Rejection, ReloadOutcome, ReloadReport};
use super::files::{dir_name, write_plugin_dir};
use super::{Registry, ToolSet};
use crate::FunctionInfo;
use crate::loader::{self, LoadError, LoadStage, Source};
use crate::plugin::LoadedPlugin;

/// What changes see (under the lock).
#[derive(Default)]
pub(super) struct Control {
    pub(super) loaded: BTreeMap<String, Slot>,
    /// The last failed load of each directory, until a load from it succeeds.
    pub(super) rejected: BTreeMap<PathBuf, Rejection>,
}

/// One plugin's serving version, and the version a rollback would restore.
pub(super) struct Slot {
    pub(super) current: Arc<LoadedPlugin>,
    pub(super) previous: Option<Arc<LoadedPlugin>>,
}

impl Registry {
    /// Reconciles the plugin directories the watcher saw change (each only if its files changed).
    pub(super) async fn reconcile_dirs(&self, dirs: Vec<PathBuf>) {
        for dir in dirs {
            let report = self.reconcile_dir_or_skip(&dir, false).await;
            if report.outcome != ReloadOutcome::Unchanged {
                tracing::info!(dir = %dir.display(), outcome = report.outcome.as_str(), plugin = ?report.plugin, error = ?report.error.as_ref().map(|e| e.to_string()), "plugin directory changed");
            }
        }
    }

    /// Applies the database's active plugin versions if the database's plugin set changed since it
    /// was last applied (the poller's step; `Ok(None)` when nothing changed or there is no database).
    pub async fn follow_database(&self) -> Result<Option<Vec<ReloadReport>>, RegistryError> {
        let Some(store) = self.store() else { return Ok(None) };
        let generation = store.plugin_generation().await?;
        if generation == self.applied_generation.load(Ordering::Acquire) {
            return Ok(None);
        }
        Ok(Some(self.apply_database().await?))
    }

    /// Serves the database's active version of every plugin that has one (read with the
    /// generation first, so a change racing this one is seen by the next poll). A plugin whose
    /// load is in progress is left to it; the generation then stays unapplied, so the poller
    /// comes back.
    async fn apply_database(&self) -> Result<Vec<ReloadReport>, RegistryError> {
        let Some(store) = self.store() else { return Ok(Vec::new()) };
        let generation = store.plugin_generation().await?;
        let active = store.plugin_active_set().await?;
        let mut reports = Vec::with_capacity(active.len());
        reports.extend(self.apply_removals(&mut *self.control.lock().await, store).await?);
        let mut complete = true;
        for plugin in active {
            let Ok(_turn) = self.loading.claim(&plugin.name) else {
                complete = false;
                continue;
            };
            // Read again in the turn: an upload that finished since the set was read made its own
            // version active, and must not be replaced by the one read before.
            let Some(plugin) = store.plugin_active(&plugin.name).await? else { continue };
            let report = self.apply_version(store, &plugin.name, &plugin.key).await?;
            if report.outcome != ReloadOutcome::Unchanged {
                tracing::info!(plugin = %plugin.name, outcome = report.outcome.as_str(), version = ?report.version, sha256 = %plugin.key.sha256, error = ?report.error.as_ref().map(|e| e.to_string()), "applied the database's plugin version");
            }
            reports.push(report);
        }
        if complete {
            // Applications may overlap (the poller, a reload): the newest generation stands.
            self.applied_generation.fetch_max(generation, Ordering::AcqRel);
        }
        Ok(reports)
    }

    /// [`Registry::apply_database`] where a database failure must not fail the reload (the
    /// directory's plugins still serve; the poller tries again).
    pub(super) async fn apply_database_or_log(&self) -> Vec<ReloadReport> {
        self.apply_database().await.unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot apply the database's plugin versions");
            Vec::new()
        })
    }

    /// Serves version `key` of plugin `name` from the database unless it already serves or was
    /// already rejected here. A version that fails is rejected (and listed) like a directory's.
    /// The caller holds `name`'s load turn; the version loads outside the lock.
    pub(super) async fn apply_version(
        &self,
        store: &Store,
        name: &str,
        key: &PluginVersionKey,
    ) -> Result<ReloadReport, RegistryError> {
        let dir = {
            let control = self.control.lock().await;
            let dir = self.dir_for(&control, name);
            let matches = |sha: &str, manifest_sha: &str| sha == key.sha256 && manifest_sha == key.manifest_sha256;
            if let Some(slot) = control.loaded.get(name)
                && matches(&slot.current.sha256, &slot.current.manifest_sha256)
            {
                return Ok(ReloadReport::new(ReloadOutcome::Unchanged, &dir, Some(&slot.current), None));
            }
            if let Some(rejection) = control.rejected.get(&dir)
                && matches(
                    rejection.sha256.as_deref().unwrap_or(""),
                    rejection.manifest_sha256.as_deref().unwrap_or(""),
                )
            {
                return Ok(ReloadReport::new(ReloadOutcome::Unchanged, &dir, None, Some(rejection.error.clone())));
            }
            dir
        };
        let source = match crate::shared_set::fetch(store, name, key, &dir).await? {
            Ok(source) => source,
            Err(missing) => return Ok(self.reject(&mut *self.control.lock().await, &dir, None, missing)),
        };
        let loaded = self.load_version(source.clone()).await;
        let control = &mut *self.control.lock().await;
        match loaded.and_then(|plugin| self.admit(control, &plugin).map(|()| plugin)) {
            Ok(plugin) => match self.serve(control, plugin, &source).await {
                Ok(report) => Ok(report),
                Err(err) => {
                    tracing::error!(plugin = name, error = %err, "cannot write the database's plugin version");
                    Ok(ReloadReport::new(
                        ReloadOutcome::Rejected,
                        &dir,
                        None,
                        Some(LoadError::new(LoadStage::Read, err.to_string())),
                    ))
                }
            },
            Err(err) => Ok(self.reject(control, &dir, Some(&source), err)),
        }
    }

    /// Loads `dir` (unless unchanged and not forced) or removes its plugin if the directory is gone.
    /// `Busy` when its plugin is loading already (an upload).
    pub(super) async fn reconcile_dir(&self, dir: &Path, force: bool) -> Result<ReloadReport, RegistryError> {
        let read = if dir.is_dir() {
            let read_dir = dir.to_path_buf();
            Some(tokio::task::spawn_blocking(move || Source::read(&read_dir)).await)
        } else {
            None
        };
        let (source, serving) = {
            let control = &mut *self.control.lock().await;
            let owner = control.loaded.iter().find(|(_, s)| s.current.dir == dir).map(|(name, _)| name.clone());
            let Some(read) = read else {
                control.rejected.remove(dir);
                let Some(name) = owner else { return Ok(ReloadReport::new(ReloadOutcome::Unchanged, dir, None, None)) };
                control.loaded.remove(&name);
                self.publish(control);
                count_reload(name.clone(), ReloadOutcome::Removed);
                tracing::info!(plugin = %name, dir = %dir.display(), "plugin removed");
                let mut removed = ReloadReport::new(ReloadOutcome::Removed, dir, None, None);
                removed.plugin = Some(name);
                return Ok(removed);
            };
            let source = match read {
                Ok(Ok(source)) => source,
                Ok(Err(err)) => return Ok(self.reject(control, dir, None, err)),
                Err(err) => {
                    return Ok(self.reject(control, dir, None, LoadError::new(LoadStage::Read, err.to_string())));
                }
            };
            let current = owner.as_ref().map(|name| control.loaded[name].current.clone());
            if !force {
                // A signature added or replaced is a change too (an unsigned version refused until signed).
                let same = |sha: Option<&str>, manifest_sha: Option<&str>, signature: Option<&str>| {
                    sha == Some(source.sha256.as_str())
                        && manifest_sha == Some(source.manifest_sha256.as_str())
                        && signature == source.signature.as_deref()
                };
                if current
                    .as_ref()
                    .is_some_and(|p| same(Some(&p.sha256), Some(&p.manifest_sha256), p.signature_file.as_deref()))
                    || control.rejected.get(dir).is_some_and(|r| {
                        same(r.sha256.as_deref(), r.manifest_sha256.as_deref(), r.signature_file.as_deref())
                    })
                {
                    return Ok(ReloadReport::new(ReloadOutcome::Unchanged, dir, current.as_deref(), None));
                }
            }
            (source, current)
        };
        let _turn = self.loading.claim(&loader::peek_name(&source.manifest_text).unwrap_or_else(|| dir_name(dir)))?;
        let loaded = self.load_version(source.clone()).await;
        let control = &mut *self.control.lock().await;
        let now_serving = control.loaded.values().find(|s| s.current.dir == dir).map(|s| s.current.clone());
        if now_serving.as_ref().map(Arc::as_ptr) != serving.as_ref().map(Arc::as_ptr) {
            // Another load served this directory meanwhile (an upload that just finished): it stands.
            return Ok(ReloadReport::new(ReloadOutcome::Unchanged, dir, now_serving.as_deref(), None));
        }
        Ok(match loaded.and_then(|plugin| check_conflicts(control, &plugin).map(|()| plugin)) {
            Ok(plugin) => self.accept(control, plugin),
            Err(err) => self.reject(control, dir, Some(&source), err),
        })
    }

    /// [`Registry::reconcile_dir`] where a plugin already loading is skipped: the report says so.
    pub(super) async fn reconcile_dir_or_skip(&self, dir: &Path, force: bool) -> ReloadReport {
        self.reconcile_dir(dir, force).await.unwrap_or_else(|busy| {
            let mut skipped = ReloadReport::new(ReloadOutcome::Unchanged, dir, None, None);
            skipped.error = Some(LoadError::new(LoadStage::Conflict, busy.to_string()));
            skipped
        })
    }

    /// The check a version loaded outside the lock for plugin `name`'s directory passes before it is
    /// served: that is still the plugin's directory, and no name clashes with another plugin's.
    pub(super) fn admit(&self, control: &Control, plugin: &LoadedPlugin) -> Result<(), LoadError> {
        if self.dir_for(control, &plugin.name) != plugin.dir {
            let moved = format!("another plugin was loaded from {} meanwhile", plugin.dir.display());
            return Err(LoadError::new(LoadStage::Conflict, moved));
        }
        check_conflicts(control, plugin)
    }

    /// Every load step (no lock needed: it changes nothing).
    pub(super) async fn load_version(&self, source: Source) -> Result<Arc<LoadedPlugin>, LoadError> {
        let name = loader::peek_name(&source.manifest_text);
        let stats = self.stats_for(name.as_deref().unwrap_or(&dir_name(&source.dir)));
        Ok(Arc::new(loader::load(&self.runtime, source, stats).await?))
    }

    /// Writes a prepared plugin's files to its directory, then serves it.
    pub(super) async fn serve(
        &self,
        control: &mut Control,
        plugin: Arc<LoadedPlugin>,
        source: &Source,
    ) -> Result<ReloadReport, RegistryError> {
        let files = source.clone();
        tokio::task::spawn_blocking(move || write_plugin_dir(&files))
            .await
            .map_err(|err| RegistryError::Io(err.to_string()))?
            .map_err(|err| RegistryError::Io(format!("writing {}: {err}", source.dir.display())))?;
        Ok(self.accept(control, plugin))
    }

    /// Serves `plugin` (its previous version kept for rollback) and publishes the new tool set.
    fn accept(&self, control: &mut Control, plugin: Arc<LoadedPlugin>) -> ReloadReport {
        let name = plugin.name.to_string();
        // The directory may have held a plugin under another name before.
        let renamed: Vec<String> = control
            .loaded
            .iter()
            .filter(|(n, s)| **n != name && s.current.dir == plugin.dir)
            .map(|(n, _)| n.clone())
            .collect();
        for old in renamed {
            control.loaded.remove(&old);
        }
        let previous = control.loaded.remove(&name).map(|slot| slot.current);
        control.rejected.remove(&plugin.dir);
        control.loaded.insert(name.clone(), Slot { current: plugin.clone(), previous });
        self.publish(control);
        count_reload(name.clone(), ReloadOutcome::Loaded);
        tracing::info!(
            plugin = %name,
            version = %plugin.manifest.version,
            sha256 = %plugin.sha256,
            functions = plugin.functions.len(),
            from_cache = plugin.from_cache,
            load_ms = plugin.load_time.as_secs_f64() * 1000.0,
            "plugin loaded"
        );
        ReloadReport::new(ReloadOutcome::Loaded, &plugin.dir, Some(&plugin), None)
    }

    /// Records a refused version of `dir` (listed until a load from `dir` succeeds); whatever served
    /// before keeps serving.
    fn reject(&self, control: &mut Control, dir: &Path, source: Option<&Source>, error: LoadError) -> ReloadReport {
        let plugin = source.and_then(|s| loader::peek_name(&s.manifest_text));
        let label = plugin.clone().unwrap_or_else(|| dir_name(dir));
        tracing::warn!(plugin = %label, dir = %dir.display(), stage = error.stage.as_str(), error = %error.message, "plugin rejected");
        count_reload(label, ReloadOutcome::Rejected);
        control.rejected.insert(
            dir.to_path_buf(),
            Rejection {
                dir: dir.to_path_buf(),
                plugin: plugin.clone(),
                sha256: source.map(|s| s.sha256.clone()),
                manifest_sha256: source.map(|s| s.manifest_sha256.clone()),
                signature_file: source.and_then(|s| s.signature.clone()),
                at: Utc::now(),
                error: error.clone(),
            },
        );
        let mut rejected = ReloadReport::new(ReloadOutcome::Rejected, dir, None, Some(error));
        rejected.plugin = plugin;
        rejected.sha256 = source.map(|s| s.sha256.clone());
        rejected
    }

    /// Publishes the current versions as the tool set calls see.
    pub(super) fn publish(&self, control: &Control) {
        let mut by_function = HashMap::new();
        let mut functions = Vec::new();
        for slot in control.loaded.values() {
            let plugin = &slot.current;
            for (index, function) in plugin.functions.iter().enumerate() {
                by_function.insert(function.name.to_string(), (plugin.clone(), index));
                functions.push(FunctionInfo {
                    name: function.name.to_string(),
                    description: function.description.clone(),
                    parameters: function.schema.clone(),
                    plugin: plugin.name.to_string(),
                });
            }
        }
        self.set.store(Arc::new(ToolSet { by_function, functions: Arc::new(functions) }));
        self.published.send_modify(|generation| *generation += 1);
    }
}

/// Whether `plugin` can join the others: its name is not loaded from another directory, and none
/// of its functions is offered by another plugin.
pub(super) fn check_conflicts(control: &Control, plugin: &LoadedPlugin) -> Result<(), LoadError> {
    if let Some(slot) = control.loaded.get(&*plugin.name)
        && slot.current.dir != plugin.dir
    {
        return Err(LoadError::new(
            LoadStage::Conflict,
            format!("a plugin named {} is already loaded from {}", plugin.name, slot.current.dir.display()),
        ));
    }
    for (name, slot) in &control.loaded {
        if *name == *plugin.name || slot.current.dir == plugin.dir {
            continue;
        }
        for function in &plugin.functions {
            if slot.current.function_index(&function.name).is_some() {
                return Err(LoadError::new(
                    LoadStage::Conflict,
                    format!("function {} is already offered by plugin {name}", function.name),
                ));
            }
        }
    }
    Ok(())
}

/// Counts a reload that changed something (`plugin_reloads_total`).
pub(super) fn count_reload(plugin: String, outcome: ReloadOutcome) {
    metrics::counter!("plugin_reloads_total", "plugin" => plugin, "outcome" => outcome.as_str()).increment(1);
}
