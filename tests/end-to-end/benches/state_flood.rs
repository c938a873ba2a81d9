//! The figure of the plugin state quota (issue #10): rows and bytes in `tool_state` after 100 calls
//! of the hostile `state-flood` plugin (1 MiB values under fresh keys) by one user, with the
//! default quota (`PLUGIN_STATE_MAX_KEYS` 1000, `PLUGIN_STATE_MAX_BYTES` 8 MiB), on SQLite and on
//! the local Postgres. Each call floods until the host refuses a write (`state_quota_exceeded`).
//! Without the quota, one call wrote 987 rows, about 1 GB.
//!
//! `make plugins && cargo bench -p end-to-end --bench state_flood`.

use std::time::Instant;

use end_to_end::plugins::PluginsDir;
use end_to_end::tool_world::tool_call;
use serde_json::json;
use store::testing::{BACKENDS, TestDatabase};
use tools::{HostServices, Registry, RuntimeConfig};

const CALLS: usize = 100;
const USER: &str = "user_flood";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async {
        println!("tool_state after {CALLS} state-flood calls of one user (default quota: 1000 keys, 8 MiB)");
        for backend in BACKENDS {
            let plugins = PluginsDir::new();
            plugins.add("state-flood");
            let db = TestDatabase::new(backend).await.expect("a test database");
            let services = HostServices::new(db.store.clone());
            let registry = Registry::load(RuntimeConfig::new(plugins.path()), services).await.expect("the runtime");
            let started = Instant::now();
            let mut refused = 0;
            for _ in 0..CALLS {
                let outcome = registry.call(tool_call(USER, "flood", json!({"until_refused": true}), None)).await;
                match outcome.result {
                    Err(err) if err.code == "state_quota_exceeded" => refused += 1,
                    other => panic!("expected state_quota_exceeded, got {other:?}"),
                }
            }
            let elapsed = started.elapsed();
            let usage = db.store.tool_state_usage("state-flood", USER).await.expect("usage");
            println!(
                "{:<8} rows={:>4}  bytes={:>9} ({:.2} MiB)  refused calls={refused}/{CALLS}  {:.1} ms per call",
                format!("{backend:?}"),
                usage.keys,
                usage.bytes,
                usage.bytes as f64 / (1 << 20) as f64,
                elapsed.as_secs_f64() * 1000.0 / CALLS as f64
            );
        }
    });
}
