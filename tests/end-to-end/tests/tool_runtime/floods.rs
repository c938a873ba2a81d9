//! Hostile plugins that pile things up across calls, and what bounds them: `state-flood` fills its
//! state with 1 MiB values (the per-user quota stops it, with a clear error, on both backends),
//! `error-flood` fails with 16 MiB messages under a fresh code each call (messages are cut, metric
//! series and failure counts stay bounded), and the app's purge deletes what expired.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use end_to_end::plugins::PluginsDir;
use end_to_end::poll::poll_until;
use end_to_end::server::TestServer;
use futures::StreamExt;
use serde_json::{Value, json};
use store::testing::{BACKENDS, TestDatabase};
use store::{Backend, StatePut, StateQuota, StateUsage};

use crate::admin_api::Service;
use crate::support::{Harness, call, call_as, shared_process};

/// The flood with a deadline that is never the point (ten minutes) and fuel for a few hundred
/// refused writes (making the 1 MiB value takes about 1.07 million): what stops the flood that
/// ignores refusals, whatever the machine's speed.
const STATE_FLOOD: &str =
    "name = \"state-flood\"\nversion = \"1\"\n[limits]\ntimeout_seconds = 600\nfuel = 1_500_000\n";

/// Echo, host-probe (another plugin with state) and state-flood, over `backend`.
async fn state_flood_harness(backend: Backend) -> (PluginsDir, Harness) {
    let dir = PluginsDir::new();
    for name in ["echo", "host-probe", "state-flood"] {
        dir.add(name);
    }
    dir.write_manifest("state-flood", STATE_FLOOD);
    let db = TestDatabase::new(backend).await.expect("a test database");
    let harness = Harness::with_database(&dir, db, |_| {}, shared_process().await).await;
    (dir, harness)
}

#[tokio::test]
async fn a_state_flood_is_bounded_by_the_quota_with_a_clear_error_on_both_backends() {
    for backend in BACKENDS {
        let (_dir, harness) = state_flood_harness(backend).await;
        let store = &harness.db.store;
        // The default quota is 8 MiB: seven values of 1 MiB (and their keys) fit, the eighth does not.
        let message = harness.fails("flood", json!({"until_refused": true}), "state_quota_exceeded").await;
        assert_eq!(
            message,
            "state_quota_exceeded: this tool may keep at most 1000 keys and 8 MiB of state per user; \
             nothing was stored",
            "{backend:?}"
        );
        let usage = store.tool_state_usage("state-flood", "user-1").await.unwrap();
        assert_eq!(usage.keys, 7, "{backend:?}");
        assert!(usage.bytes > 7 << 20 && usage.bytes <= 8 << 20, "{backend:?}: {usage:?}");

        // Ignoring every refusal, a flood writes nothing more; fuel ends it.
        let ignoring = harness.call("flood", json!({})).await;
        assert_eq!(ignoring.result.unwrap_err().code, "fuel_exhausted", "{backend:?}");
        assert_eq!(store.tool_state_usage("state-flood", "user-1").await.unwrap(), usage, "{backend:?}");

        // Another user of the same plugin, and another plugin of the same user, have their own quota.
        let other_user = harness.registry.call(call_as("user-2", "flood", json!({"until_refused": true}))).await;
        assert_eq!(other_user.result.unwrap_err().code, "state_quota_exceeded", "{backend:?}");
        assert_eq!(store.tool_state_usage("state-flood", "user-2").await.unwrap().keys, 7, "{backend:?}");
        harness.ok("probe_state_put", json!({"key": "preview", "value": "kept"})).await;
        assert_eq!(
            harness.ok("probe_state_get", json!({"key": "preview"})).await["value"],
            "kept",
            "{backend:?}: host-probe keeps its state"
        );
        harness.echo_still_works().await;
    }
}

#[tokio::test]
async fn a_manifest_may_lower_the_state_quota() {
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add("host-probe");
    dir.write_manifest("host-probe", "name = \"host-probe\"\nversion = \"1\"\n[limits]\nstate_max_keys = 2\n");
    let harness = Harness::start(&dir, |_| {}).await;
    for key in ["a", "b"] {
        harness.ok("probe_state_put", json!({"key": key, "value": "v"})).await;
    }
    // Overwriting a kept key still fits; a third key does not.
    harness.ok("probe_state_put", json!({"key": "a", "value": "w"})).await;
    let message = harness.fails("probe_state_put", json!({"key": "c", "value": "v"}), "state_quota_exceeded").await;
    assert!(message.contains("at most 2 keys"), "{message}");
    assert_eq!(harness.ok("probe_state_get", json!({"key": "c"})).await["value"], Value::Null);
}

#[tokio::test]
async fn a_manifest_asking_for_more_state_than_the_operator_allows_is_rejected() {
    let dir = PluginsDir::new();
    dir.add("host-probe");
    dir.write_manifest("host-probe", "name = \"host-probe\"\nversion = \"1\"\n[limits]\nstate_max_bytes = 8388609\n");
    let harness = Harness::start(&dir, |_| {}).await;
    let listing = harness.registry.list().await;
    let rejection = listing[0].last_rejection.clone().expect("rejected").error.message;
    assert!(rejection.contains("limits.state_max_bytes: 8388609 is not in [0, 8388608]"), "{rejection}");
}

/// The codes the flood reports, one of four kinds by call number: fresh valid codes (passed on,
/// counted as `plugin_error`), invalid ones (`plugin_error` everywhere), the declared code, and
/// over-long ones.
fn flood_code(i: usize) -> (String, &'static str, &'static str) {
    match i % 4 {
        0 => (format!("fresh_code_{i}"), "passed", "plugin_error"),
        1 => (format!("Fresh Code {i}!"), "plugin_error", "plugin_error"),
        2 => ("declared_failure".to_string(), "passed", "declared_failure"),
        _ => ("x".repeat(65 + i), "plugin_error", "plugin_error"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_error_flood_is_cut_and_counted_under_a_bounded_set_of_codes() {
    const CALLS: usize = 1000;
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add("error-flood");
    let service = Service::start(&dir).await;
    service.wait_ready().await;

    let tools = service.tools.clone();
    let flood = futures::stream::iter(0..CALLS)
        .map(|i| {
            let tools = tools.clone();
            async move {
                let (code, _, _) = flood_code(i);
                let outcome = tools.call(call("fail", json!({"code": code, "megabytes": 16}))).await;
                (i, outcome)
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>();
    // Meanwhile, another plugin is served.
    let echoes = async {
        for n in 0..50 {
            let outcome = tools.call(call("echo", json!({"text": format!("still here {n}")}))).await;
            assert!(outcome.result.is_ok(), "echo during the flood: {:?}", outcome.result);
        }
    };
    let (outcomes, ()) = tokio::join!(flood, echoes);

    for (i, outcome) in outcomes {
        let error = outcome.result.expect_err("the flood fails");
        let (code, shown, _) = flood_code(i);
        let expected = if shown == "passed" { code.as_str() } else { "plugin_error" };
        assert_eq!(error.code, expected, "call {i}");
        assert!(error.message.len() <= 65_536 + 64, "call {i}: a message of {} bytes", error.message.len());
        assert!(error.message.ends_with(" … [cut: 16 MiB message]"), "call {i}");
    }

    // The metric series of the plugin: one per counted code, however many codes were reported.
    let metrics = service.metrics().await;
    let outcomes: BTreeSet<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("tool_calls_total{") && l.contains("plugin=\"error-flood\""))
        .filter_map(|l| l.split("outcome=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(outcomes, BTreeSet::from(["declared_failure", "plugin_error"]), "{metrics}");

    // The admin listing's failure counts: the same bounded set.
    let (status, listing) = service.get("/admin/plugins").await;
    assert_eq!(status, 200);
    let flood = listing["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "error-flood").unwrap();
    let by_code: BTreeMap<String, u64> = serde_json::from_value(flood["stats"]["failures_by_code"].clone()).unwrap();
    let mut expected = BTreeMap::new();
    for i in 0..CALLS {
        *expected.entry(flood_code(i).2.to_string()).or_default() += 1;
    }
    assert_eq!(by_code, expected);
    assert!(flood["stats"]["last_error"]["message"].as_str().unwrap().len() <= 65_536 + 64);
}

/// Rows of `table` on the database `db` was opened on, expired or not.
async fn rows(backend: Backend, url: &str, schema: Option<&str>, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.expect("connect");
            let n = sqlx::query_scalar(&sql).fetch_one(&pool).await.expect("count");
            pool.close().await;
            n
        }
        Backend::Postgres => {
            let options = sqlx::postgres::PgConnectOptions::from_str(url)
                .expect("a Postgres url")
                .options([("search_path", schema.expect("a test schema"))]);
            let pool = sqlx::PgPool::connect_with(options).await.expect("connect");
            let n = sqlx::query_scalar(&sql).fetch_one(&pool).await.expect("count");
            pool.close().await;
            n
        }
    }
}

#[tokio::test]
async fn the_app_purges_expired_state_and_past_rate_limit_windows_on_both_backends() {
    for backend in BACKENDS {
        let db = TestDatabase::new(backend).await.expect("a test database");
        let (url, schema) = (db.url.clone(), db.schema.clone());
        let store = db.store.clone();
        let quota = StateQuota { max_keys: 10, max_bytes: 1 << 20 };
        let now = Utc::now();
        for (key, expires) in
            [("expired", now - chrono::Duration::seconds(1)), ("live", now + chrono::Duration::hours(1))]
        {
            assert_eq!(store.tool_state_put("p", "u", key, "x", expires, quota).await.unwrap(), StatePut::Stored);
        }
        store.hit_function_limit("u", "sync_strava", 3, now - chrono::Duration::hours(2)).await.unwrap();
        // A window of the future is never past while the test runs, whatever the hour.
        store.hit_function_limit("u", "sync_strava", 3, now + chrono::Duration::hours(2)).await.unwrap();
        assert_eq!(rows(backend, &url, schema.as_deref(), "tool_state").await, 2);

        let server = TestServer::start(&[("STORAGE_PURGE_INTERVAL_SECONDS", "0.05")], db).await.unwrap();
        poll_until(Duration::from_secs(30), format!("the purge on {backend:?}"), async || {
            let state = rows(backend, &url, schema.as_deref(), "tool_state").await;
            let windows = rows(backend, &url, schema.as_deref(), "function_rate_limits").await;
            if (state, windows) == (1, 1) { Ok(()) } else { Err(format!("{state} state rows, {windows} windows")) }
        })
        .await;
        assert_eq!(store.tool_state_usage("p", "u").await.unwrap(), StateUsage { keys: 1, bytes: 5 });
        server.stop(Duration::from_secs(1)).await.unwrap();
    }
}
