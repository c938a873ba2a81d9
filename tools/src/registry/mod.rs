//! The loaded tool set and its life cycle. Calls read an atomic snapshot ([`ToolSet`], swapped
//! whole with `ArcSwap`), so they never wait for a reload and finish on the version they started
//! on. Changes (start-up, a file change seen by the watcher, an admin reload, rollback or upload)
//! load a version completely ([`crate::loader`], its signature first: [`crate::signing`]) outside the
//! registry's lock, one load per plugin at a time, so a slow compile or `describe` holds up nothing
//! else; then, serialised by the one lock, each checks that its plugin and function names are not
//! taken by another plugin, and only then publishes a new snapshot. A version that fails is
//! rejected with its reason and the previous one keeps serving; the version a plugin had before its
//! last successful load is kept for rollback.
//!
//! With a database behind the runtime, the plugin set is shared by every instance
//! ([`crate::shared_set`]): an upload is stored and made active there before it is served, a rollback of
//! an uploaded plugin is made there, and every reload ends by applying the database's active
//! versions, which override the directory's plugin of the same name (their files are written into
//! its directory, so a later reload from disk agrees). A plugin removed through the admin API is
//! removed there too, and every instance drops it ([`remove`]).
//!
//! By job: this file holds the tool set and runs calls on it (the snapshot, [`Registry::functions`],
//! [`Registry::call`], readiness); [`reconcile`] turns a directory or the database into a new set;
//! [`admin`] holds the operations of the admin API and their reports; [`loading`] keeps one load
//! per plugin at a time (the slow steps run outside the lock); [`files`] knows where plugin
//! files live and writes them; [`background`] follows the watcher and the database while the
//! registry lives; [`values`] follows the plugins' settings and secrets.

mod admin;
mod background;
mod files;
mod loading;
mod reconcile;
mod remove;
mod values;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;

use store::Store;

pub use self::admin::{
    PluginListing, PluginStatus, RegistryError, Rejection, ReloadOutcome, ReloadReport, VersionInfo,
};
use self::background::Background;
use self::loading::InProgress;
pub use self::loading::Loading;
use self::reconcile::Control;
pub use self::values::{MAX_VALUE_BYTES, ValueReport};
use crate::engine::Runtime;
use crate::outcome::{ToolError, ToolOutcome};
use crate::plugin::LoadedPlugin;
use crate::stats::{PluginStats, record_metrics};
use crate::watcher::Watcher;
use crate::{FunctionInfo, HostServices, RuntimeConfig, ToolCall};

/// The loaded tool set, swapped atomically on reload.
pub struct Registry {
    runtime: Arc<Runtime>,
    ready: AtomicBool,
    ready_signal: tokio::sync::watch::Sender<bool>,
    set: ArcSwap<ToolSet>,
    control: tokio::sync::Mutex<Control>,
    /// Loads whose slow steps run outside `control`.
    loading: InProgress,
    stats: parking_lot::Mutex<HashMap<String, Arc<PluginStats>>>,
    /// The watcher's consumer and the database poller; set once by [`Registry::start`].
    background: OnceLock<Background>,
    /// The generation of the database's plugin set last applied (-1: none yet).
    applied_generation: std::sync::atomic::AtomicI64,
    /// Serialises reading the plugins' settings and secrets ([`values`]).
    values_refresh: tokio::sync::Mutex<()>,
    /// How many tool sets were published: bumped by every swap (a load, reload, upload, rollback or
    /// removal), so MCP sessions can tell their clients the list changed.
    published: tokio::sync::watch::Sender<u64>,
}

/// What calls see: every current version, indexed by function name.
#[derive(Default)]
struct ToolSet {
    by_function: HashMap<String, (Arc<LoadedPlugin>, usize)>,
    functions: Arc<Vec<FunctionInfo>>,
}

impl Registry {
    fn new(runtime: Arc<Runtime>) -> Registry {
        Registry {
            runtime,
            ready: AtomicBool::new(false),
            ready_signal: tokio::sync::watch::Sender::new(false),
            set: ArcSwap::from_pointee(ToolSet::default()),
            control: tokio::sync::Mutex::new(Control::default()),
            loading: InProgress::default(),
            stats: parking_lot::Mutex::new(HashMap::new()),
            background: OnceLock::new(),
            applied_generation: std::sync::atomic::AtomicI64::new(-1),
            values_refresh: tokio::sync::Mutex::new(()),
            published: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Creates the engine, then loads every plugin of `config.plugins_dir` in the background and,
    /// if `config.watch`, watches the directory; with a database, polls its plugin set every
    /// `config.database_poll_interval` (unless zero). Returns at once; [`Registry::is_ready`] turns true
    /// when the initial load is done ([`Registry::wait_ready`] waits for it). A plugin that fails to
    /// load is rejected without affecting the others. Call from within a tokio runtime.
    pub fn start(config: RuntimeConfig, services: HostServices) -> anyhow::Result<Arc<Registry>> {
        let runtime = Arc::new(Runtime::new(config, services)?);
        tracing::info!(pooling = runtime.pooling, dir = %runtime.config.plugins_dir.display(), "tool runtime started");
        let registry = Arc::new(Registry::new(runtime));
        let config = &registry.runtime.config;
        let watcher = if config.watch {
            Watcher::start(&config.plugins_dir, config.watch_debounce)
                .inspect_err(|err| {
                    tracing::error!(error = %format!("{err:#}"), "cannot watch the plugins directory; reload through the admin API")
                })
                .ok()
        } else {
            None
        };
        let poll_interval = registry.store().and(registry.database_poll_interval());
        let _ = registry.background.set(Background::start(&registry, watcher, poll_interval));
        let loading = registry.clone();
        tokio::spawn(async move {
            // Manifests need the plugins' settings and secrets before anything loads.
            if let Err(err) = loading.refresh_values().await {
                tracing::error!(error = %err, "cannot read the plugins' settings and secrets");
            }
            let reports = loading.reload_all(true).await;
            let loaded = reports.iter().filter(|r| r.outcome == ReloadOutcome::Loaded).count();
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

    /// The directory plugins are loaded from.
    pub fn plugins_dir(&self) -> &Path {
        &self.runtime.config.plugins_dir
    }

    /// Whether instances come from the pooling allocator (false: on-demand allocation).
    pub fn pooling(&self) -> bool {
        self.runtime.pooling
    }

    /// The loads in progress (compiling or in `describe`), oldest plugin name first.
    pub fn loading(&self) -> Vec<Loading> {
        self.loading.list()
    }

    /// Outgoing requests of plugins not yet entirely gone (sending, or a response body or
    /// connection still open); zero once every call has ended.
    pub fn egress_requests_in_flight(&self) -> usize {
        self.runtime.network.in_flight.get()
    }

    /// The functions currently offered, ordered by plugin name, then as each plugin lists them.
    pub fn functions(&self) -> Arc<Vec<FunctionInfo>> {
        self.set.load().functions.clone()
    }

    /// Follows the tool set: the receiver sees a new value after every swap (a load, reload,
    /// upload, rollback or removal changed the functions offered or the versions serving them).
    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.published.subscribe()
    }

    /// Runs one call. Never panics and never fails: every failure is a [`ToolError`] in the outcome.
    pub async fn call(&self, call: ToolCall) -> ToolOutcome {
        let found = self.set.load().by_function.get(call.function.as_str()).cloned();
        match found {
            Some((plugin, index)) => crate::instance::call::run(&self.runtime, &plugin, index, &call).await,
            None => {
                let outcome = ToolOutcome {
                    plugin: None,
                    result: Err(ToolError::unknown_function(&call.function)),
                    elapsed: std::time::Duration::ZERO,
                    fuel_consumed: None,
                };
                let unknown: Arc<str> = "unknown".into();
                record_metrics(&unknown, &unknown, outcome.outcome_label(), call.caller.via, outcome.elapsed, None);
                outcome
            }
        }
    }

    fn store(&self) -> Option<&Store> {
        self.runtime.services.store.as_ref()
    }

    fn database_poll_interval(&self) -> Option<std::time::Duration> {
        Some(self.runtime.config.database_poll_interval).filter(|i| !i.is_zero())
    }

    fn stats_for(&self, name: &str) -> Arc<PluginStats> {
        self.stats.lock().entry(name.to_string()).or_default().clone()
    }
}
