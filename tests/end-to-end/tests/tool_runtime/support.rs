//! What every suite of the tool runtime needs: a temporary plugins directory, a registry over it
//! (with a SQLite database behind the host capabilities), and calls.

use std::sync::Arc;
use std::time::Duration;

use end_to_end::plugins::PluginsDir;
use serde_json::Value;
use stand_ins::gate::Gate;
use stand_ins::recording_server::RecordingServer;
use store::testing::TestDatabase;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use tools::{HostServices, PluginPolicy, PluginValues, Registry, RuntimeConfig, ToolCall, ToolOutcome};

/// Tests that measure the process (resident memory) run alone: they take this lock for writing,
/// every other registry holds it for reading.
static PROCESS: RwLock<()> = RwLock::const_new(());

pub async fn shared_process() -> RwLockReadGuard<'static, ()> {
    PROCESS.read().await
}

pub async fn exclusive_process() -> RwLockWriteGuard<'static, ()> {
    PROCESS.write().await
}

/// A runtime configuration for `dir` sized for tests (many registries live at once).
pub fn config(dir: &PluginsDir) -> RuntimeConfig {
    let mut config = RuntimeConfig::new(dir.path());
    config.default_timeout = Duration::from_secs(10);
    config.max_concurrent_calls = 64;
    config.watch_debounce = Duration::from_millis(100);
    config.policy = trusting(&[]);
    config
}

/// Echo's origin when `ECHO_BASE_URL` is unset.
const ECHO_DEFAULT_ORIGIN: &str = "http://localhost:8001";

/// The policy a development host derives when its configured services are `services` (beside
/// echo's default origin): they may receive users' credentials and be on loopback; any other
/// public https origin may be granted without either.
pub fn trusting(services: &[&str]) -> PluginPolicy {
    PluginPolicy::configured(services.iter().copied().chain([ECHO_DEFAULT_ORIGIN]), [], true)
}

/// Points echo's `echo_http` at `origin` (a stand-in on loopback), trusted like a configured service.
pub fn point_echo(config: &mut RuntimeConfig, origin: &str) {
    point_at(config, "ECHO_BASE_URL", origin);
}

/// Sets the setting `name` to `origin` (a stand-in on loopback), trusted like a configured service.
pub fn point_at(config: &mut RuntimeConfig, name: &str, origin: &str) {
    config.defaults = settings(&[(name, origin)]);
    config.policy = trusting(&[origin]);
}

/// Points the egress probe at `allowed` (a stand-in on loopback the policy lets it reach) and
/// `named` (granted by the policy, but without any internal address).
pub fn point_probe(config: &mut RuntimeConfig, allowed: &str, named: &str) {
    config.defaults = settings(&[("PROBE_ALLOWED_ORIGIN", allowed), ("PROBE_NAMED_ORIGIN", named)]);
    config.policy = trusting(&[allowed]);
    let named = PluginPolicy::parse(&format!("[[grant]]\norigin = \"{named}\"\n")).expect("a valid grant");
    config.policy.grants.extend(named.grants);
}

/// `pairs` as the host's default settings (what `${setting:NAME}` falls back to).
pub fn settings(pairs: &[(&str, &str)]) -> PluginValues {
    PluginValues {
        settings: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..PluginValues::default()
    }
}

/// A loaded registry over a plugins directory, and the database behind it.
pub struct Harness {
    pub registry: Arc<Registry>,
    pub db: TestDatabase,
    _process: RwLockReadGuard<'static, ()>,
}

impl Harness {
    /// Loads every plugin of `dir` (SQLite behind the capabilities).
    pub async fn start(dir: &PluginsDir, configure: impl FnOnce(&mut RuntimeConfig)) -> Harness {
        let process = shared_process().await;
        let db = TestDatabase::sqlite().await.expect("a test database");
        Harness::with_database(dir, db, configure, process).await
    }

    pub async fn with_database(
        dir: &PluginsDir,
        db: TestDatabase,
        configure: impl FnOnce(&mut RuntimeConfig),
        process: RwLockReadGuard<'static, ()>,
    ) -> Harness {
        let mut config = config(dir);
        configure(&mut config);
        let registry = Registry::load(config, HostServices::new(db.store.clone())).await.expect("starting the runtime");
        Harness { registry, db, _process: process }
    }

    pub async fn call(&self, function: &str, arguments: Value) -> ToolOutcome {
        self.registry.call(call(function, arguments)).await
    }

    /// Fails unless `function` succeeds, and returns its result as JSON.
    pub async fn ok(&self, function: &str, arguments: Value) -> Value {
        let outcome = self.call(function, arguments).await;
        match &outcome.result {
            Ok(text) => serde_json::from_str(text).unwrap_or(Value::String(text.clone())),
            Err(err) => panic!("{function} failed: {err}"),
        }
    }

    /// Fails unless `function` fails with `code`, and returns the message.
    pub async fn fails(&self, function: &str, arguments: Value, code: &str) -> String {
        let outcome = self.call(function, arguments).await;
        match outcome.result {
            Err(err) if err.code == code => err.message,
            other => panic!("{function}: expected {code}, got {other:?}"),
        }
    }

    /// The host is unharmed: echo still answers.
    pub async fn echo_still_works(&self) {
        let result = self.ok("echo", serde_json::json!({"text": "still here"})).await;
        assert_eq!(result["echo"], "still here");
    }
}

/// A call by `user-1`.
pub fn call(function: &str, arguments: Value) -> ToolCall {
    call_as("user-1", function, arguments)
}

pub fn call_as(user: &str, function: &str, arguments: Value) -> ToolCall {
    end_to_end::tool_world::tool_call(user, function, arguments, None)
}

/// Replaces a `key = "…"` line of a manifest.
pub fn with_line(manifest: &str, key: &str, line: &str) -> String {
    manifest
        .lines()
        .map(|l| if l.trim_start().starts_with(&format!("{key} ")) { line } else { l })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

pub use end_to_end::process_memory::resident_bytes;

/// A server whose answers (`{"slow": true}`) are held until the test opens the gate.
pub async fn gated_server() -> (RecordingServer, Gate) {
    RecordingServer::gated(serde_json::json!({"slow": true})).await
}
