//! The WebAssembly tool runtime: every function the model can call is a sandboxed component of the
//! world `amakaflow:tool/tool` (see `wit/tool.wit`), loaded from `PLUGINS_DIR` and from the
//! database's plugin set (shared by every instance).
//!
//! The chat host uses, from the [`Registry`]: [`Registry::start`] and [`Registry::is_ready`] (the
//! initial load, for `/health/ready`), [`Registry::functions`] (what to offer the model),
//! [`Registry::call`] (run one call with the plugin's limits and egress policy) and the admin
//! operations ([`Registry::list`], [`Registry::reload`], [`Registry::reload_all`],
//! [`Registry::rollback`], [`Registry::install`]), which answer with a [`ReloadReport`] or a
//! [`RegistryError`]. The author CLI uses [`author`].
//!
//! How a call runs: the registry finds the plugin offering the function in an atomic snapshot of
//! the tool set (so a reload never disturbs a call in flight); `instance::call` checks the
//! arguments against the function's JSON Schema, takes a permit from the plugin's and the host's
//! concurrency limits, creates a fresh store from the plugin's pre-instantiated component with a
//! fuel budget, an epoch deadline, a memory limit and the plugin's egress policy, and drops it
//! afterwards whatever happened. Every failure becomes a [`ToolError`] with its own code.
//!
//! Where things are:
//! - `registry/`: the tool set and calls (`mod.rs`), reconciling a directory or the database into
//!   a new set (`reconcile.rs`), the admin operations and their reports (`admin.rs`), plugin files
//!   and staged writes (`files.rs`), and the tasks that follow the watcher and poll the database
//!   while the registry lives (`background.rs`).
//! - `watcher.rs` reports which plugin directories changed; `shared_set.rs` stores and fetches
//!   versions of the database's plugin set.
//! - `loader.rs` loads one version (signature, checked by `signing.rs` → manifest → pin → compile or
//!   `cache.rs` → link → describe → `schema.rs`) into a `plugin.rs` value; `manifest.rs` parses
//!   `plugin.toml`, interpolating the plugin's settings and secrets (`plugin_values.rs`), and
//!   `policy.rs` checks it against the operator's policy.
//! - `engine.rs` is the one wasmtime engine and linker; `instance/` runs one sandbox (`call.rs`
//!   classifies how a call ended); `limits.rs` is the memory limit, `egress/` the outgoing-HTTP
//!   policy, `capabilities/` the `host` interface backed by `services.rs`.
//! - `outcome.rs` is what a call produced and its error codes; `stats.rs` the per-plugin statistics.

pub mod author;
mod bindings;
mod cache;
mod capabilities;
mod egress;
mod engine;
mod initial_memory;
mod instance;
mod latency;
mod limits;
mod loader;
pub mod manifest;
mod memory_budget;
mod outcome;
mod plugin;
pub mod plugin_values;
pub mod policy;
mod registry;
pub mod scaffold;
mod schema;
mod services;
mod shared_set;
pub mod signing;
mod stats;
mod watcher;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

pub use capabilities::index::{NoWorkoutIndex, WorkoutIndex, WorkoutMatch};
pub use egress::TraceContextHook;
pub use latency::LatencySummary;
pub use loader::{LoadError, LoadStage, MANIFEST_FILE, MAX_MANIFEST_BYTES, MAX_WASM_BYTES, WASM_FILE, oversized};
pub use manifest::Limits;
pub use memory_budget::default_budget_bytes;
pub use outcome::{ToolError, ToolOutcome, codes};
pub use plugin_values::{PluginValues, ValueKind};
pub use policy::PluginPolicy;
pub use registry::{
    Loading, MAX_VALUE_BYTES, PluginListing, PluginStatus, Registry, RegistryError, Rejection, ReloadOutcome,
    ReloadReport, ValueReport, VersionInfo,
};
pub use services::HostServices;
pub use signing::{SignaturePolicy, SignatureSettings, SignatureStatus, TrustedKeys};
pub use stats::{LastError, StatsSnapshot};

/// Settings of the runtime, derived from the service configuration.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// One subdirectory per plugin, each with `plugin.toml` and `plugin.wasm`.
    pub plugins_dir: PathBuf,
    /// Compiled artifacts, keyed by the wasm's sha256 and the engine's compatibility hash. Host-owned:
    /// never point it at a directory plugin authors can write to.
    pub cache_dir: PathBuf,
    /// A call's wall-clock budget when the manifest sets none (`FUNCTION_TIMEOUT_SECONDS`).
    pub default_timeout: Duration,
    /// What `${setting:NAME}` and `${secret:NAME}` fall back to when the plugin has no stored value
    /// of that name (the host's runbook variables and `OPENAI_API_KEY`).
    pub defaults: PluginValues,
    /// Opens the plugins' stored secrets (`PLUGIN_SECRETS_KEY`); without it, stored values are
    /// not read and manifests see the defaults only.
    pub secrets_key: Option<store::SecretsKey>,
    /// The operator's policy over manifests (origins, credentials, internal addresses), checked at
    /// every load.
    pub policy: PluginPolicy,
    /// Watch `plugins_dir` and reload changed plugins.
    pub watch: bool,
    /// How long `plugins_dir` must be quiet before a change is loaded.
    pub watch_debounce: Duration,
    /// Host names answered without DNS (like curl's `--resolve`): tests point names at chosen addresses.
    pub resolve: HashMap<String, Vec<IpAddr>>,
    /// Calls running at once across all plugins; sizes the instance pool. More is answered `busy`.
    pub max_concurrent_calls: u32,
    /// The largest memory limit a manifest may ask for (also the size of a pool slot).
    pub max_memory_bytes: u64,
    /// The linear memory all running calls may hold at once: a call reserves its plugin's memory
    /// limit before it starts (`PLUGIN_MEMORY_BUDGET_BYTES`; default half the machine's memory).
    pub memory_budget_bytes: u64,
    /// How long a call waits for room in the memory budget before it is answered `busy`
    /// (`PLUGIN_MEMORY_WAIT_MS`; never past the call's deadline).
    pub memory_wait: Duration,
    /// The most outgoing requests one call may have in flight that a manifest may ask for
    /// (`PLUGIN_MAX_REQUESTS_IN_FLIGHT`).
    pub max_requests_in_flight: u32,
    /// Try the pooling instance allocator first (falls back to on-demand allocation when the host
    /// cannot reserve the address space).
    pub pooling: bool,
    /// How often to check the database for a changed plugin set (uploads and rollbacks made
    /// through another instance); zero: never (the database's set is still applied at start-up
    /// and on every reload).
    pub database_poll_interval: Duration,
    /// Live state keys a plugin may keep per user (`PLUGIN_STATE_MAX_KEYS`); manifests may ask for less.
    pub state_max_keys: u64,
    /// Bytes of state keys and values a plugin may keep per user (`PLUGIN_STATE_MAX_BYTES`).
    pub state_max_bytes: u64,
    /// The longest a version's compilation may take; past it the load is abandoned and rejected.
    pub compile_timeout: Duration,
    /// `PLUGIN_SIGNATURES` and `PLUGIN_TRUSTED_KEYS`: which plugin versions load.
    pub signatures: SignatureSettings,
    /// The host's `traceparent` for the plugins' requests (`None`: requests are left as they are).
    pub trace_context: Option<egress::TraceContextHook>,
}

impl RuntimeConfig {
    /// Defaults for everything but the directory: cache in `<dir>/.cache`, 30 s calls, no watching,
    /// a policy granting no origin.
    pub fn new(plugins_dir: impl Into<PathBuf>) -> RuntimeConfig {
        let plugins_dir = plugins_dir.into();
        RuntimeConfig {
            cache_dir: plugins_dir.join(".cache"),
            plugins_dir,
            default_timeout: Duration::from_secs(30),
            defaults: PluginValues::default(),
            secrets_key: None,
            policy: PluginPolicy::default(),
            watch: false,
            watch_debounce: Duration::from_millis(250),
            resolve: HashMap::new(),
            max_concurrent_calls: 128,
            max_memory_bytes: 1 << 30,
            memory_budget_bytes: memory_budget::default_budget_bytes(),
            memory_wait: Duration::from_millis(2000),
            max_requests_in_flight: 16,
            pooling: true,
            database_poll_interval: Duration::ZERO,
            state_max_keys: 1000,
            state_max_bytes: 8 << 20,
            compile_timeout: Duration::from_secs(60),
            signatures: SignatureSettings::default(),
            trace_context: None,
        }
    }
}

/// Who a call is made for. The authorization header is only ever added to outgoing requests the
/// manifest marks `forward_user_auth`; it never enters the sandbox.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub user_id: String,
    pub session_id: Option<String>,
    pub request_id: String,
    pub authorization: Option<String>,
    /// Which surface asked for the call: the `via` label of `tool_calls_total`.
    pub via: Via,
}

/// The surface a call came through, so metrics tell the chat's calls from an MCP client's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Via {
    /// The chat's tool-use loop (and the author CLI, which runs a call as the chat would).
    #[default]
    Chat,
    /// An MCP client's `tools/call` on `/mcp`.
    Mcp,
}

impl Via {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Chat => "chat",
            Via::Mcp => "mcp",
        }
    }
}

/// One call the model asked for.
#[derive(Clone, Debug)]
pub struct ToolCall {
    pub function: String,
    pub arguments: Value,
    pub caller: Caller,
}

/// A function as offered to the model.
#[derive(Clone, Debug, Serialize)]
pub struct FunctionInfo {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
    pub plugin: String,
}
