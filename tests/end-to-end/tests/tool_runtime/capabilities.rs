//! Host capabilities, through a real plugin (`host-probe`): state scoped to plugin and user, hourly
//! rate limits, feature flags, the workout index, and logging that cannot flood the host. State and
//! limits run on both database backends.

use std::sync::Arc;

use end_to_end::clock_window::{Window, within_one_window};
use end_to_end::plugins::PluginsDir;
use futures::future::BoxFuture;
use serde_json::json;
use store::Backend;
use store::flags::FlagScope;
use store::testing::TestDatabase;
use tools::{HostServices, Registry, WorkoutIndex, WorkoutMatch};

use crate::support::{Harness, call_as};

async fn probe(backend: Backend) -> (PluginsDir, Harness) {
    let dir = PluginsDir::new();
    dir.add("host-probe");
    let process = crate::support::shared_process().await;
    let db = TestDatabase::new(backend).await.expect("a test database");
    let harness = Harness::with_database(&dir, db, |_| {}, process).await;
    (dir, harness)
}

async fn state_is_scoped_to_the_user_and_consumed_once(backend: Backend) {
    let (_dir, harness) = probe(backend).await;
    harness.ok("probe_state_put", json!({"key": "preview", "value": "{\"w\":1}", "ttl_seconds": 900})).await;
    assert_eq!(harness.ok("probe_state_get", json!({"key": "preview"})).await["value"], "{\"w\":1}");
    let other = harness.registry.call(call_as("user-2", "probe_state_get", json!({"key": "preview"}))).await;
    assert_eq!(other.result.unwrap(), r#"{"value":null}"#);
    assert_eq!(harness.ok("probe_state_take", json!({"key": "preview"})).await["value"], "{\"w\":1}");
    assert_eq!(harness.ok("probe_state_take", json!({"key": "preview"})).await["value"], json!(null));
    // Bad input is the plugin's error, not a crash.
    let message =
        harness.fails("probe_state_put", json!({"key": "k".repeat(300), "value": "v"}), "internal_error").await;
    assert!(message.contains("keys must be 1 to 256 bytes"), "{message}");
}

#[tokio::test]
async fn state_is_scoped_to_the_user_and_consumed_once_on_sqlite() {
    state_is_scoped_to_the_user_and_consumed_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn state_is_scoped_to_the_user_and_consumed_once_on_postgres() {
    state_is_scoped_to_the_user_and_consumed_once(Backend::Postgres).await;
}

async fn hourly_limits_are_enforced(backend: Backend) {
    let (_dir, harness) = probe(backend).await;
    for count in 1..=2 {
        let result = harness.ok("probe_rate_limit", json!({"bucket": "sync_strava", "limit": 2})).await;
        assert_eq!(result, json!({"count": count, "limit": 2}));
    }
    let message =
        harness.fails("probe_rate_limit", json!({"bucket": "sync_strava", "limit": 2}), "rate_limit_exceeded").await;
    assert!(message.starts_with("Rate limit exceeded: at most 2 calls per hour."), "{message}");
    // Another user has their own count.
    let other = harness
        .registry
        .call(call_as("user-2", "probe_rate_limit", json!({"bucket": "sync_strava", "limit": 2})))
        .await;
    assert!(other.result.is_ok());
}

#[tokio::test]
async fn hourly_limits_are_enforced_on_sqlite() {
    within_one_window(Window::Hour, || hourly_limits_are_enforced(Backend::Sqlite)).await;
}

#[tokio::test]
async fn hourly_limits_are_enforced_on_postgres() {
    within_one_window(Window::Hour, || hourly_limits_are_enforced(Backend::Postgres)).await;
}

#[tokio::test]
async fn feature_flags_are_the_callers() {
    let (_dir, harness) = probe(Backend::Sqlite).await;
    let store = &harness.db.store;
    store.set_feature_flag("chat_functions_enabled", FlagScope::Global, json!([])).await.unwrap();
    store.set_feature_flag("chat_functions_enabled", FlagScope::User("user-1"), json!(["garmin_sync"])).await.unwrap();
    let mine = harness.ok("probe_flag", json!({"key": "chat_functions_enabled"})).await;
    assert_eq!(mine, json!({"value": ["garmin_sync"], "garmin": true}));
    let theirs = harness.registry.call(call_as("user-2", "probe_flag", json!({"key": "chat_functions_enabled"}))).await;
    let theirs: serde_json::Value = serde_json::from_str(&theirs.result.unwrap()).unwrap();
    assert_eq!(theirs, json!({"garmin": false, "value": []}));
}

#[tokio::test]
async fn the_default_index_has_no_workouts_and_checks_the_embedding() {
    let (_dir, harness) = probe(Backend::Sqlite).await;
    assert_eq!(harness.ok("probe_search", json!({"dimension": 1536})).await, json!({"matches": [], "indexed": 0}));
    let message = harness.fails("probe_search", json!({"dimension": 3}), "execution_error").await;
    assert_eq!(message, "the query embedding must have 1536 values, not 3");
}

/// An index with one workout for `user-1`: what the embeddings work will plug in.
struct OneWorkout;

impl WorkoutIndex for OneWorkout {
    fn search<'a>(
        &'a self,
        user: &'a str,
        _: &'a [f32],
        limit: u32,
        min: f32,
    ) -> BoxFuture<'a, anyhow::Result<Vec<WorkoutMatch>>> {
        Box::pin(async move {
            assert!(limit <= 50 && min == 0.5);
            Ok(if user == "user-1" {
                vec![WorkoutMatch { workout_id: "w1".into(), title: "Legs".into(), description: None, similarity: 0.9 }]
            } else {
                Vec::new()
            })
        })
    }

    fn count<'a>(&'a self, user: &'a str) -> BoxFuture<'a, anyhow::Result<u32>> {
        Box::pin(async move { Ok(u32::from(user == "user-1")) })
    }
}

#[tokio::test]
async fn a_workout_index_answers_for_the_calling_user() {
    let _process = crate::support::shared_process().await;
    let dir = PluginsDir::new();
    dir.add("host-probe");
    let db = TestDatabase::sqlite().await.unwrap();
    let services = HostServices::new(db.store.clone()).with_index(Arc::new(OneWorkout));
    let registry = Registry::load(crate::support::config(&dir), services).await.unwrap();
    let mine = registry.call(call_as("user-1", "probe_search", json!({"dimension": 1536}))).await;
    let mine: serde_json::Value = serde_json::from_str(&mine.result.unwrap()).unwrap();
    assert_eq!(mine["indexed"], 1);
    assert_eq!(mine["matches"][0]["id"], "w1");
    let theirs = registry.call(call_as("user-2", "probe_search", json!({"dimension": 1536}))).await;
    let theirs: serde_json::Value = serde_json::from_str(&theirs.result.unwrap()).unwrap();
    assert_eq!(theirs, json!({"indexed": 0, "matches": []}));
}

#[tokio::test]
async fn a_chatty_plugin_cannot_flood_the_log_or_fail_on_a_full_stderr() {
    let (_dir, harness) = probe(Backend::Sqlite).await;
    let result = harness.ok("probe_chatter", json!({"log_lines": 1000, "stderr_kib": 256})).await;
    assert_eq!(result, json!({"done": true}));
}

#[tokio::test]
async fn without_a_database_state_fails_as_a_host_error() {
    let _process = crate::support::shared_process().await;
    let dir = PluginsDir::new();
    dir.add("host-probe");
    let registry = Registry::load(crate::support::config(&dir), HostServices::without_store()).await.unwrap();
    let outcome = registry.call(call_as("user-1", "probe_state_get", json!({"key": "k"}))).await;
    let error = outcome.result.unwrap_err();
    assert_eq!(error.code, "host_error");
    assert_eq!(error.message, "The tool probe_state_get could not reach a service it needs. Please try again.");
}
