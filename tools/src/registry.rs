//! The loaded tool set and its life cycle. Calls read an atomic snapshot ([`ToolSet`], swapped
//! whole with `ArcSwap`), so they never wait for a reload and finish on the version they started
//! on. Changes (start-up, a file change seen by the watcher, an admin reload, rollback or upload)
//! are serialised by one lock: each loads a version completely ([`crate::loader`]), checks that its
//! plugin and function names are not taken by another plugin, and only then publishes a new
//! snapshot. A version that fails is rejected with its reason and the previous one keeps serving;
//! the version a plugin had before its last successful load is kept for rollback.
//!
//! With a database behind the runtime, the plugin set is shared by every instance
//! ([`crate::sync`]): an upload is stored and made active there before it is served, a rollback of
//! an uploaded plugin is made there, and every reload ends by applying the database's active
//! versions, which override the directory's plugin of the same name (their files are written into
//! its directory, so a later reload from disk agrees). A plugin removed through the admin API is
//! removed there too, and every instance drops it ([`remove`]).

mod remove;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use serde::Serialize;

use store::{PluginVersionKey, Store};

use crate::engine::Runtime;
use crate::loader::{self, LoadError, LoadStage, Source};
use crate::manifest::Limits;
use crate::outcome::{ToolError, ToolOutcome};
use crate::plugin::LoadedPlugin;
use crate::stats::{PluginStats, StatsSnapshot, record_metrics};
use crate::{FunctionInfo, HostServices, RuntimeConfig, ToolCall};

/// The loaded tool set, swapped atomically on reload.
pub struct Registry {
    runtime: Option<Arc<Runtime>>,
    ready: AtomicBool,
    ready_signal: tokio::sync::watch::Sender<bool>,
    set: ArcSwap<ToolSet>,
    control: tokio::sync::Mutex<Control>,
    stats: parking_lot::Mutex<HashMap<String, Arc<PluginStats>>>,
    watcher: parking_lot::Mutex<Option<crate::watcher::Watcher>>,
    /// The database generation of the plugin set last applied (-1: none yet).
    synced_generation: std::sync::atomic::AtomicI64,
}

/// What calls see: every current version, indexed by function name.
#[derive(Default)]
struct ToolSet {
    by_function: HashMap<String, (Arc<LoadedPlugin>, usize)>,
    functions: Arc<Vec<FunctionInfo>>,
}

/// What changes see (under the lock).
#[derive(Default)]
struct Control {
    loaded: BTreeMap<String, Slot>,
    /// The last failed load of each directory, until a load from it succeeds.
    rejected: BTreeMap<PathBuf, Rejection>,
}

struct Slot {
    current: Arc<LoadedPlugin>,
    previous: Option<Arc<LoadedPlugin>>,
}

/// A rejected plugin version.
#[derive(Clone, Debug, Serialize)]
pub struct Rejection {
    pub dir: PathBuf,
    pub plugin: Option<String>,
    pub sha256: Option<String>,
    pub at: DateTime<Utc>,
    pub error: LoadError,
    #[serde(skip)]
    manifest_sha256: Option<String>,
}

/// Whether a listed plugin serves calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginStatus {
    Loaded,
    Rejected,
}

/// One plugin in the admin listing.
#[derive(Clone, Debug, Serialize)]
pub struct PluginListing {
    /// The plugin name (for a rejected directory whose manifest has no readable name: the directory name).
    pub name: String,
    pub status: PluginStatus,
    pub dir: PathBuf,
    pub version: Option<String>,
    pub sha256: Option<String>,
    pub functions: Vec<String>,
    pub limits: Option<Limits>,
    /// The allowed origins.
    pub egress: Vec<String>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub load_time_ms: Option<f64>,
    pub from_cache: Option<bool>,
    /// The version a rollback would restore.
    pub previous: Option<VersionInfo>,
    pub stats: StatsSnapshot,
    /// The last failed load (for a loaded plugin: the newer version that was refused).
    pub last_rejection: Option<Rejection>,
}

/// A plugin version, briefly.
#[derive(Clone, Debug, Serialize)]
pub struct VersionInfo {
    pub version: String,
    pub sha256: String,
    pub loaded_at: DateTime<Utc>,
}

/// What a reload, rollback or upload did.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadReport {
    pub dir: PathBuf,
    pub plugin: Option<String>,
    /// `loaded`, `unchanged`, `removed`, `rejected` or `rolled_back`.
    pub outcome: &'static str,
    pub version: Option<String>,
    pub sha256: Option<String>,
    pub from_cache: Option<bool>,
    pub load_time_ms: Option<f64>,
    pub error: Option<LoadError>,
}

/// Why an admin operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no plugin named {0}")]
    NotFound(String),
    #[error("plugin {0} has no previous version to roll back to")]
    NoPrevious(String),
    #[error("the plugin was rejected: {0}")]
    Rejected(LoadError),
    #[error("the tool runtime is not running")]
    NotRunning,
    #[error("{0}")]
    Io(String),
    /// The shared plugin set in the database could not be read or changed.
    #[error("the plugin database is unavailable: {0}")]
    Database(String),
}

impl Registry {
    /// An empty registry (no plugins, no engine), ready at once.
    pub fn empty() -> Arc<Registry> {
        Arc::new(Registry::new(None, true))
    }

    fn new(runtime: Option<Arc<Runtime>>, ready: bool) -> Registry {
        Registry {
            runtime,
            ready: AtomicBool::new(ready),
            ready_signal: tokio::sync::watch::Sender::new(ready),
            set: ArcSwap::from_pointee(ToolSet::default()),
            control: tokio::sync::Mutex::new(Control::default()),
            stats: parking_lot::Mutex::new(HashMap::new()),
            watcher: parking_lot::Mutex::new(None),
            synced_generation: std::sync::atomic::AtomicI64::new(-1),
        }
    }

    /// Creates the engine, then loads every plugin of `config.plugins_dir` in the background and,
    /// if `config.watch`, watches the directory. Returns at once; [`Registry::is_ready`] turns true
    /// when the initial load is done ([`Registry::wait_ready`] waits for it). A plugin that fails to
    /// load is rejected without affecting the others. Call from within a tokio runtime.
    pub fn start(config: RuntimeConfig, services: HostServices) -> anyhow::Result<Arc<Registry>> {
        let watch = config.watch;
        let runtime = Arc::new(Runtime::new(config, services)?);
        tracing::info!(pooling = runtime.pooling, dir = %runtime.config.plugins_dir.display(), "tool runtime started");
        let registry = Arc::new(Registry::new(Some(runtime), false));
        if watch {
            match crate::watcher::Watcher::start(&registry) {
                Ok(watcher) => *registry.watcher.lock() = Some(watcher),
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), "cannot watch the plugins directory; reload through the admin API")
                }
            }
        }
        if let (Some(_), Some(interval)) = (registry.store(), registry.sync_interval()) {
            crate::sync::spawn_poller(&registry, interval);
        }
        let loading = registry.clone();
        tokio::spawn(async move {
            let reports = loading.reload_all(true).await;
            let loaded = reports.iter().filter(|r| r.outcome == "loaded").count();
            tracing::info!(loaded, rejected = reports.len() - loaded, "initial plugin load finished");
            loading.ready.store(true, Ordering::Release);
            loading.ready_signal.send_replace(true);
        });
        Ok(registry)
    }

    /// [`Registry::start`], then waits for the initial load.
    pub async fn load(config: RuntimeConfig, services: HostServices) -> anyhow::Result<Arc<Registry>> {
        let registry = Registry::start(config, services)?;
        registry.wait_ready().await;
        Ok(registry)
    }

    /// Whether the initial tool set is loaded.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Waits until the initial tool set is loaded.
    pub async fn wait_ready(&self) {
        let mut ready = self.ready_signal.subscribe();
        let _ = ready.wait_for(|ready| *ready).await;
    }

    /// The directory plugins are loaded from (`None` for [`Registry::empty`]).
    pub fn plugins_dir(&self) -> Option<PathBuf> {
        self.runtime.as_ref().map(|r| r.config.plugins_dir.clone())
    }

    pub(crate) fn watch_debounce(&self) -> std::time::Duration {
        self.runtime.as_ref().map(|r| r.config.watch_debounce).unwrap_or_default()
    }

    /// Whether instances come from the pooling allocator (false: on-demand, or no engine).
    pub fn pooling(&self) -> bool {
        self.runtime.as_ref().is_some_and(|r| r.pooling)
    }

    /// The functions currently offered, ordered by plugin name, then as each plugin lists them.
    pub fn functions(&self) -> Arc<Vec<FunctionInfo>> {
        self.set.load().functions.clone()
    }

    /// Runs one call. Never panics and never fails: every failure is a [`ToolError`] in the outcome.
    pub async fn call(&self, call: ToolCall) -> ToolOutcome {
        let found = self.set.load().by_function.get(call.function.as_str()).cloned();
        match (found, &self.runtime) {
            (Some((plugin, index)), Some(runtime)) => crate::instance::call::run(runtime, &plugin, index, &call).await,
            _ => {
                let outcome = ToolOutcome {
                    plugin: None,
                    result: Err(ToolError::unknown_function(&call.function)),
                    elapsed: std::time::Duration::ZERO,
                    fuel_consumed: None,
                };
                let unknown: Arc<str> = "unknown".into();
                record_metrics(&unknown, &unknown, outcome.outcome_label(), outcome.elapsed, None);
                outcome
            }
        }
    }

    /// Every loaded plugin, and every directory whose plugin was rejected.
    pub async fn list(&self) -> Vec<PluginListing> {
        let control = self.control.lock().await;
        let mut listing: Vec<PluginListing> = control
            .loaded
            .values()
            .map(|slot| {
                let p = &slot.current;
                PluginListing {
                    name: p.name.to_string(),
                    status: PluginStatus::Loaded,
                    dir: p.dir.clone(),
                    version: Some(p.manifest.version.clone()),
                    sha256: Some(p.sha256.clone()),
                    functions: p.functions.iter().map(|f| f.name.to_string()).collect(),
                    limits: Some(p.manifest.limits),
                    egress: p.egress.rules().iter().map(|r| r.origin.to_string()).collect(),
                    loaded_at: Some(p.loaded_at),
                    load_time_ms: Some(p.load_time.as_secs_f64() * 1000.0),
                    from_cache: Some(p.from_cache),
                    previous: slot.previous.as_ref().map(|v| VersionInfo {
                        version: v.manifest.version.clone(),
                        sha256: v.sha256.clone(),
                        loaded_at: v.loaded_at,
                    }),
                    stats: p.stats.snapshot(),
                    last_rejection: control.rejected.get(&p.dir).cloned(),
                }
            })
            .collect();
        let loaded_dirs: Vec<&PathBuf> = control.loaded.values().map(|s| &s.current.dir).collect();
        for rejection in control.rejected.values().filter(|r| !loaded_dirs.contains(&&r.dir)) {
            let name = rejection.plugin.clone().unwrap_or_else(|| dir_name(&rejection.dir));
            let stats = self.stats.lock().get(&name).map(|s| s.snapshot()).unwrap_or_default();
            listing.push(PluginListing {
                name,
                status: PluginStatus::Rejected,
                dir: rejection.dir.clone(),
                version: None,
                sha256: rejection.sha256.clone(),
                functions: Vec::new(),
                limits: None,
                egress: Vec::new(),
                loaded_at: None,
                load_time_ms: None,
                from_cache: None,
                previous: None,
                stats,
                last_rejection: Some(rejection.clone()),
            });
        }
        listing
    }

    /// Loads plugin `name` again from its directory (even if its files did not change), then
    /// applies the database's active versions (an uploaded version of `name` wins over the files).
    pub async fn reload(&self, name: &str) -> Result<ReloadReport, RegistryError> {
        let mut control = self.control.lock().await;
        let dir = match control.loaded.get(name) {
            Some(slot) => slot.current.dir.clone(),
            None => control
                .rejected
                .values()
                .find(|r| r.plugin.as_deref() == Some(name) || dir_name(&r.dir) == name)
                .map(|r| r.dir.clone())
                .ok_or_else(|| RegistryError::NotFound(name.to_string()))?,
        };
        let report = self.sync_dir(&mut control, &dir, true).await;
        let applied = self.apply_database_or_log(&mut control).await;
        // The database may have replaced what the directory held: report what serves now.
        Ok(applied
            .into_iter()
            .find(|r| r.plugin.as_deref() == Some(name) && r.outcome != "unchanged")
            .unwrap_or(report))
    }

    /// Brings the tool set in line with the directory: loads new and changed plugins (every plugin
    /// when `force`), removes those whose directory is gone; then applies the database's active
    /// versions. Reports every directory, and every database version that changed something.
    pub async fn reload_all(&self, force: bool) -> Vec<ReloadReport> {
        let Some(runtime) = &self.runtime else { return Vec::new() };
        let mut control = self.control.lock().await;
        let mut dirs = plugin_dirs(&runtime.config.plugins_dir);
        for slot in control.loaded.values() {
            if !dirs.contains(&slot.current.dir) {
                dirs.push(slot.current.dir.clone());
            }
        }
        let rejected: Vec<PathBuf> = control.rejected.keys().filter(|d| !dirs.contains(d)).cloned().collect();
        dirs.extend(rejected);
        dirs.sort();
        let mut reports = Vec::new();
        for dir in dirs {
            reports.push(self.sync_dir(&mut control, &dir, force).await);
        }
        let applied = self.apply_database_or_log(&mut control).await;
        reports.extend(applied.into_iter().filter(|r| r.outcome != "unchanged"));
        reports
    }

    /// Reloads the plugin directories the watcher saw change.
    pub(crate) async fn changed(&self, dirs: Vec<PathBuf>) {
        let mut control = self.control.lock().await;
        for dir in dirs {
            let report = self.sync_dir(&mut control, &dir, false).await;
            if report.outcome != "unchanged" {
                tracing::info!(dir = %dir.display(), outcome = report.outcome, plugin = ?report.plugin, error = ?report.error.as_ref().map(|e| e.to_string()), "plugin directory changed");
            }
        }
    }

    /// Swaps plugin `name` back to the version it had before its last load (a second rollback
    /// returns to the newer one). For an uploaded plugin this happens in the database, so every
    /// instance follows; otherwise only here, until the plugin's files change again.
    pub async fn rollback(&self, name: &str) -> Result<ReloadReport, RegistryError> {
        let mut control = self.control.lock().await;
        if let Some(store) = self.store()
            && store.plugin_active(name).await.map_err(database_error)?.is_some()
        {
            let active = store
                .plugin_rollback(name)
                .await
                .map_err(database_error)?
                .ok_or_else(|| RegistryError::NoPrevious(name.to_string()))?;
            let mut report = self.apply_version(&mut control, name, &active.key).await?;
            if let Some(error) = report.error.clone() {
                // It no longer loads here (a clash with a plugin added since): undo in the database.
                store.plugin_rollback(name).await.map_err(database_error)?;
                return Err(RegistryError::Rejected(error));
            }
            report.outcome = "rolled_back";
            return Ok(report);
        }
        let slot = control.loaded.get_mut(name).ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
        let previous = slot.previous.take().ok_or_else(|| RegistryError::NoPrevious(name.to_string()))?;
        let newer = std::mem::replace(&mut slot.current, previous);
        slot.previous = Some(newer);
        let current = slot.current.clone();
        if let Err(conflict) = check_conflicts(&control, &current) {
            // Another plugin took one of the old version's names meanwhile: undo.
            let slot = control.loaded.get_mut(name).expect("just used");
            let newer = slot.previous.take().expect("just set");
            slot.previous = Some(std::mem::replace(&mut slot.current, newer));
            return Err(RegistryError::Rejected(conflict));
        }
        self.publish(&control);
        metrics::counter!("plugin_reloads_total", "plugin" => name.to_string(), "outcome" => "rolled_back")
            .increment(1);
        tracing::info!(plugin = name, version = %current.manifest.version, "plugin rolled back");
        Ok(report("rolled_back", &current.dir, Some(&current), None))
    }

    /// Installs an uploaded plugin: loads it completely from the given files, and only if that
    /// succeeds stores it as the active version in the database (when there is one, so every
    /// instance serves it), writes it to `plugins_dir/<name>/` (replacing the previous files) and
    /// serves it.
    pub async fn install(&self, manifest_text: String, wasm: Vec<u8>) -> Result<ReloadReport, RegistryError> {
        let runtime = self.runtime.clone().ok_or(RegistryError::NotRunning)?;
        let manifest = loader::parse_manifest(&runtime, &manifest_text).map_err(RegistryError::Rejected)?;
        let mut control = self.control.lock().await;
        let source = Source::new(self.dir_for(&control, &manifest.name), manifest_text, wasm);
        let plugin = self.prepare(&control, source.clone()).await.map_err(RegistryError::Rejected)?;
        if let Some(store) = self.store() {
            crate::sync::publish(store, &plugin, &source).await.map_err(database_error)?;
        }
        self.serve(&mut control, plugin, &source).await
    }

    /// Applies the database's active plugin versions if the plugin set changed there since the
    /// last time (the poller's step; `Ok(None)` when nothing changed or there is no database).
    pub async fn sync_database(&self) -> Result<Option<Vec<ReloadReport>>, RegistryError> {
        let Some(store) = self.store() else { return Ok(None) };
        let generation = store.plugin_generation().await.map_err(database_error)?;
        if generation == self.synced_generation.load(Ordering::Acquire) {
            return Ok(None);
        }
        let mut control = self.control.lock().await;
        Ok(Some(self.apply_database(&mut control).await?))
    }

    /// Serves the database's active version of every plugin that has one (read with the
    /// generation first, so a change racing this one is seen by the next poll).
    async fn apply_database(&self, control: &mut Control) -> Result<Vec<ReloadReport>, RegistryError> {
        let Some(store) = self.store() else { return Ok(Vec::new()) };
        let generation = store.plugin_generation().await.map_err(database_error)?;
        let active = store.plugin_active_set().await.map_err(database_error)?;
        let mut reports = Vec::with_capacity(active.len());
        reports.extend(self.apply_removals(control, store).await?);
        for plugin in active {
            let report = self.apply_version(control, &plugin.name, &plugin.key).await?;
            if report.outcome != "unchanged" {
                tracing::info!(plugin = %plugin.name, outcome = report.outcome, version = ?report.version, sha256 = %plugin.key.sha256, error = ?report.error.as_ref().map(|e| e.to_string()), "applied the database's plugin version");
            }
            reports.push(report);
        }
        self.synced_generation.store(generation, Ordering::Release);
        Ok(reports)
    }

    /// [`Registry::apply_database`] where a database failure must not fail the reload (the
    /// directory's plugins still serve; the poller tries again).
    async fn apply_database_or_log(&self, control: &mut Control) -> Vec<ReloadReport> {
        self.apply_database(control).await.unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot apply the database's plugin versions");
            Vec::new()
        })
    }

    /// Serves version `key` of plugin `name` from the database unless it already serves or was
    /// already rejected here. A version that fails is rejected (and listed) like a directory's.
    async fn apply_version(
        &self,
        control: &mut Control,
        name: &str,
        key: &PluginVersionKey,
    ) -> Result<ReloadReport, RegistryError> {
        let dir = self.dir_for(control, name);
        let matches = |sha: &str, manifest_sha: &str| sha == key.sha256 && manifest_sha == key.manifest_sha256;
        if let Some(slot) = control.loaded.get(name)
            && matches(&slot.current.sha256, &slot.current.manifest_sha256)
        {
            return Ok(report("unchanged", &dir, Some(&slot.current), None));
        }
        if let Some(rejection) = control.rejected.get(&dir)
            && matches(rejection.sha256.as_deref().unwrap_or(""), rejection.manifest_sha256.as_deref().unwrap_or(""))
        {
            return Ok(report("unchanged", &dir, None, Some(rejection.error.clone())));
        }
        let Some(store) = self.store() else { return Err(RegistryError::NotRunning) };
        let source = match crate::sync::fetch(store, name, key, &dir).await.map_err(database_error)? {
            Ok(source) => source,
            Err(missing) => return Ok(self.reject(control, &dir, None, missing)),
        };
        match self.prepare(control, source.clone()).await {
            Ok(plugin) => match self.serve(control, plugin, &source).await {
                Ok(report) => Ok(report),
                Err(err) => {
                    tracing::error!(plugin = name, error = %err, "cannot write the database's plugin version");
                    Ok(report("rejected", &dir, None, Some(LoadError::new(LoadStage::Read, err.to_string()))))
                }
            },
            Err(err) => Ok(self.reject(control, &dir, Some(&source), err)),
        }
    }

    /// Loads `dir` (unless unchanged and not forced) or removes its plugin if the directory is gone.
    async fn sync_dir(&self, control: &mut Control, dir: &Path, force: bool) -> ReloadReport {
        if self.runtime.is_none() {
            return report("unchanged", dir, None, None);
        }
        let owner = control.loaded.iter().find(|(_, s)| s.current.dir == dir).map(|(name, _)| name.clone());
        if !dir.is_dir() {
            control.rejected.remove(dir);
            let Some(name) = owner else { return report("unchanged", dir, None, None) };
            control.loaded.remove(&name);
            self.publish(control);
            metrics::counter!("plugin_reloads_total", "plugin" => name.clone(), "outcome" => "removed").increment(1);
            tracing::info!(plugin = %name, dir = %dir.display(), "plugin removed");
            let mut removed = report("removed", dir, None, None);
            removed.plugin = Some(name);
            return removed;
        }
        let read_dir = dir.to_path_buf();
        let source = match tokio::task::spawn_blocking(move || Source::read(&read_dir)).await {
            Ok(Ok(source)) => source,
            Ok(Err(err)) => return self.reject(control, dir, None, err),
            Err(err) => return self.reject(control, dir, None, LoadError::new(LoadStage::Read, err.to_string())),
        };
        if !force {
            let same = |sha: Option<&str>, manifest_sha: Option<&str>| {
                sha == Some(source.sha256.as_str()) && manifest_sha == Some(source.manifest_sha256.as_str())
            };
            let current = owner.as_ref().map(|name| &control.loaded[name].current);
            if current.is_some_and(|p| same(Some(&p.sha256), Some(&p.manifest_sha256)))
                || control.rejected.get(dir).is_some_and(|r| same(r.sha256.as_deref(), r.manifest_sha256.as_deref()))
            {
                return report("unchanged", dir, current.map(|p| &**p), None);
            }
        }
        match self.prepare(control, source.clone()).await {
            Ok(plugin) => self.accept(control, plugin),
            Err(err) => self.reject(control, dir, Some(&source), err),
        }
    }

    /// Every load step, then the check against the other plugins; nothing is served yet.
    async fn prepare(&self, control: &Control, source: Source) -> Result<Arc<LoadedPlugin>, LoadError> {
        let runtime = self.runtime.as_ref().ok_or_else(|| LoadError::new(LoadStage::Read, "no tool runtime"))?;
        let name = loader::peek_name(&source.manifest_text);
        let stats = self.stats_for(name.as_deref().unwrap_or(&dir_name(&source.dir)));
        let plugin = Arc::new(loader::load(runtime, source, stats).await?);
        check_conflicts(control, &plugin)?;
        Ok(plugin)
    }

    /// Writes a prepared plugin's files to its directory, then serves it.
    async fn serve(
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

    /// Where plugin `name` lives: the directory of its loaded version, else `plugins_dir/<name>`,
    /// or `plugins_dir/<name>.uploaded` when another plugin is loaded from that directory (writing
    /// there would silently replace it instead of being checked against it).
    fn dir_for(&self, control: &Control, name: &str) -> PathBuf {
        match (control.loaded.get(name), &self.runtime) {
            (Some(slot), _) => slot.current.dir.clone(),
            (None, Some(runtime)) => {
                let dir = runtime.config.plugins_dir.join(name);
                if control.loaded.values().any(|slot| slot.current.dir == dir) {
                    runtime.config.plugins_dir.join(format!("{name}.uploaded"))
                } else {
                    dir
                }
            }
            (None, None) => PathBuf::from(name),
        }
    }

    pub(crate) fn store(&self) -> Option<&Store> {
        self.runtime.as_ref()?.services.store.as_ref()
    }

    fn sync_interval(&self) -> Option<std::time::Duration> {
        self.runtime.as_ref().map(|r| r.config.sync_interval).filter(|i| !i.is_zero())
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
        metrics::counter!("plugin_reloads_total", "plugin" => name.clone(), "outcome" => "loaded").increment(1);
        tracing::info!(
            plugin = %name,
            version = %plugin.manifest.version,
            sha256 = %plugin.sha256,
            functions = plugin.functions.len(),
            from_cache = plugin.from_cache,
            load_ms = plugin.load_time.as_secs_f64() * 1000.0,
            "plugin loaded"
        );
        report("loaded", &plugin.dir, Some(&plugin), None)
    }

    fn reject(&self, control: &mut Control, dir: &Path, source: Option<&Source>, error: LoadError) -> ReloadReport {
        let plugin = source.and_then(|s| loader::peek_name(&s.manifest_text));
        let label = plugin.clone().unwrap_or_else(|| dir_name(dir));
        tracing::warn!(plugin = %label, dir = %dir.display(), stage = error.stage.as_str(), error = %error.message, "plugin rejected");
        metrics::counter!("plugin_reloads_total", "plugin" => label, "outcome" => "rejected").increment(1);
        control.rejected.insert(
            dir.to_path_buf(),
            Rejection {
                dir: dir.to_path_buf(),
                plugin: plugin.clone(),
                sha256: source.map(|s| s.sha256.clone()),
                manifest_sha256: source.map(|s| s.manifest_sha256.clone()),
                at: Utc::now(),
                error: error.clone(),
            },
        );
        let mut rejected = report("rejected", dir, None, Some(error));
        rejected.plugin = plugin;
        rejected.sha256 = source.map(|s| s.sha256.clone());
        rejected
    }

    /// Publishes the current versions as the tool set calls see.
    fn publish(&self, control: &Control) {
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
    }

    fn stats_for(&self, name: &str) -> Arc<PluginStats> {
        self.stats.lock().entry(name.to_string()).or_default().clone()
    }
}

/// Whether `plugin` can join the others: its name is not loaded from another directory, and none
/// of its functions is offered by another plugin.
fn check_conflicts(control: &Control, plugin: &LoadedPlugin) -> Result<(), LoadError> {
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

fn report(outcome: &'static str, dir: &Path, plugin: Option<&LoadedPlugin>, error: Option<LoadError>) -> ReloadReport {
    ReloadReport {
        dir: dir.to_path_buf(),
        plugin: plugin.map(|p| p.name.to_string()),
        outcome,
        version: plugin.map(|p| p.manifest.version.clone()),
        sha256: plugin.map(|p| p.sha256.clone()),
        from_cache: plugin.map(|p| p.from_cache),
        load_time_ms: plugin.map(|p| p.load_time.as_secs_f64() * 1000.0),
        error,
    }
}

fn database_error(err: store::StoreError) -> RegistryError {
    RegistryError::Database(err.to_string())
}

fn dir_name(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The plugin directories under `root`: every subdirectory not starting with `.` (the cache,
/// staging areas).
pub(crate) fn plugin_dirs(root: &Path) -> Vec<PathBuf> {
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
fn write_plugin_dir(source: &Source) -> std::io::Result<()> {
    let parent = source.dir.parent().ok_or_else(|| std::io::Error::other("the plugin directory has no parent"))?;
    std::fs::create_dir_all(parent)?;
    let unique = uuid::Uuid::new_v4().simple();
    let staging = parent.join(format!(".staging-{unique}"));
    std::fs::create_dir(&staging)?;
    let written = std::fs::write(staging.join(loader::MANIFEST_FILE), &source.manifest_text)
        .and_then(|()| std::fs::write(staging.join(loader::WASM_FILE), &*source.wasm));
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
