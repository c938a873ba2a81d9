//! Hot reload: a changed plugin is picked up from disk (by the watcher or the admin), a bad new
//! version never replaces a good one, calls in flight finish on the version they started on, the
//! previous version can be restored, uploads are checked before they touch the directory, and
//! reloading over and over leaks nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use end_to_end::plugins::PluginsDir;
use end_to_end::poll::poll_until;
use serde_json::json;
use tools::{LoadStage, Registry, ReloadOutcome};

use crate::support::{Harness, gated_server, point_echo, with_line};

fn relabel(dir: &PluginsDir, label: &str) {
    let manifest = with_line(&dir.manifest("echo"), "label", &format!("label = \"{label}\""));
    dir.write_manifest("echo", &manifest);
}

async fn label(registry: &Registry) -> String {
    let outcome = registry.call(crate::support::call("echo", json!({"text": "x"}))).await;
    let result: serde_json::Value = serde_json::from_str(&outcome.result.expect("echo answers")).unwrap();
    result["label"].as_str().unwrap().to_string()
}

/// Polls until `check` holds: the watcher works in the background and signals nothing but its
/// effect. (A new plugin is compiled first, which a loaded machine may take seconds for.)
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    poll_until(Duration::from_secs(60), what, async || if check().await { Ok(()) } else { Err("not yet".into()) }).await
}

#[tokio::test]
async fn the_watcher_loads_changed_new_and_removed_plugins() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let harness = Harness::start(&dir, |config| config.watch = true).await;
    assert_eq!(label(&harness.registry).await, "echo 0.1.0");

    relabel(&dir, "echo edited");
    eventually("the edited manifest to be served", async || label(&harness.registry).await == "echo edited").await;

    dir.add("host-probe");
    eventually("the new plugin's functions to be offered", async || harness.registry.functions().len() == 9).await;

    std::fs::remove_dir_all(dir.path().join("host-probe")).unwrap();
    eventually("the removed plugin's functions to go", async || harness.registry.functions().len() == 2).await;
    harness.echo_still_works().await;
}

#[tokio::test]
async fn a_bad_new_version_is_rejected_and_the_old_one_keeps_serving() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let harness = Harness::start(&dir, |config| config.watch = true).await;
    dir.write_wasm("echo", b"\0asm broken");
    let report = harness.registry.reload("echo").await.unwrap();
    assert_eq!(report.outcome, ReloadOutcome::Rejected);
    assert_eq!(report.error.unwrap().stage, LoadStage::Compile);
    assert_eq!(label(&harness.registry).await, "echo 0.1.0");
    let listing = harness.registry.list().await;
    assert_eq!(listing.len(), 1);
    assert_eq!(listing[0].last_rejection.as_ref().unwrap().error.stage, LoadStage::Compile);
    // The watcher saw the same broken file: it does not reject it again and again, and echo serves.
    tokio::time::sleep(Duration::from_millis(400)).await;
    harness.echo_still_works().await;
}

#[tokio::test]
async fn rollback_restores_the_previous_version() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let harness = Harness::start(&dir, |_| {}).await;
    let first = harness.registry.list().await[0].clone();
    assert!(first.previous.is_none());
    assert!(harness.registry.rollback("echo").await.is_err(), "nothing to roll back to yet");

    relabel(&dir, "echo two");
    assert_eq!(harness.registry.reload("echo").await.unwrap().outcome, ReloadOutcome::Loaded);
    assert_eq!(label(&harness.registry).await, "echo two");

    let report = harness.registry.rollback("echo").await.unwrap();
    assert_eq!(report.outcome, ReloadOutcome::RolledBack);
    assert_eq!(label(&harness.registry).await, "echo 0.1.0");
    // Rolling back again returns to the newer version.
    harness.registry.rollback("echo").await.unwrap();
    assert_eq!(label(&harness.registry).await, "echo two");
    assert!(harness.registry.rollback("nope").await.is_err());
}

#[tokio::test]
async fn an_upload_is_checked_completely_before_it_is_written_and_served() {
    let dir = PluginsDir::new();
    let source = PluginsDir::new();
    source.add("echo");
    let harness = Harness::start(&dir, |config| config.watch = true).await;
    assert!(harness.registry.functions().is_empty());

    // A broken upload leaves nothing behind.
    let err = harness.registry.install(source.manifest("echo"), b"not wasm".to_vec(), None).await.unwrap_err();
    assert!(err.to_string().contains("compile failed"), "{err}");
    assert!(!dir.path().join("echo").exists());

    let report = harness.registry.install(source.manifest("echo"), source.wasm("echo"), None).await.unwrap();
    assert_eq!((report.outcome, report.plugin.as_deref()), (ReloadOutcome::Loaded, Some("echo")));
    assert_eq!(std::fs::read(dir.path().join("echo/plugin.wasm")).unwrap(), source.wasm("echo"));
    harness.echo_still_works().await;

    // A new version through upload replaces the files, and the watcher does not reload it again.
    let relabelled = with_line(&source.manifest("echo"), "label", "label = \"uploaded\"");
    harness.registry.install(relabelled, source.wasm("echo"), None).await.unwrap();
    assert_eq!(label(&harness.registry).await, "uploaded");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let listing = harness.registry.list().await;
    assert_eq!(listing[0].previous.as_ref().unwrap().version, "0.1.0");
    assert!(listing[0].last_rejection.is_none());
}

#[tokio::test]
async fn fifty_calls_in_flight_finish_on_their_version_during_a_reload() {
    let (server, gate) = gated_server().await;
    let dir = PluginsDir::new();
    dir.add("echo");
    let origin = server.url();
    let harness = Harness::start(&dir, move |config| point_echo(config, &origin)).await;

    let in_flight: Vec<_> = (0..50)
        .map(|_| {
            let registry = harness.registry.clone();
            tokio::spawn(
                async move { registry.call(crate::support::call("echo_http", json!({"path": "/slow"}))).await },
            )
        })
        .collect();
    server.wait_for_requests(50, Duration::from_secs(20)).await;

    relabel(&dir, "echo reloaded");
    assert_eq!(harness.registry.reload("echo").await.unwrap().outcome, ReloadOutcome::Loaded);
    assert_eq!(label(&harness.registry).await, "echo reloaded", "new calls get the new version");

    gate.open();
    for call in in_flight {
        let outcome = call.await.unwrap();
        let result: serde_json::Value =
            serde_json::from_str(&outcome.result.expect("no in-flight call fails")).unwrap();
        assert_eq!(result["label"], "echo 0.1.0", "an in-flight call finishes on its version");
        assert_eq!(result["body"], json!({"slow": true}));
    }
}

#[tokio::test]
async fn continuous_reloads_under_load_fail_no_call() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let harness = Harness::start(&dir, |_| {}).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (calls, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (registry, stop, calls, failures) =
                (harness.registry.clone(), stop.clone(), calls.clone(), failures.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let outcome = registry.call(crate::support::call("echo", json!({"text": "x"}))).await;
                    calls.fetch_add(1, Ordering::Relaxed);
                    if outcome.is_error() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for i in 0..30 {
        relabel(&dir, &format!("echo {i}"));
        assert_eq!(harness.registry.reload("echo").await.unwrap().outcome, ReloadOutcome::Loaded);
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    assert!(calls.load(Ordering::Relaxed) > 0);
    assert_eq!(failures.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn two_hundred_reload_cycles_leave_resident_memory_flat() {
    let _alone = crate::support::exclusive_process().await;
    let dir = PluginsDir::new();
    dir.add("echo");
    let db = store::testing::TestDatabase::sqlite().await.unwrap();
    let registry =
        Registry::load(crate::support::config(&dir), tools::HostServices::new(db.store.clone())).await.unwrap();
    let cycle = async |i: usize| {
        relabel(&dir, &format!("cycle {i}"));
        assert_eq!(registry.reload("echo").await.unwrap().outcome, ReloadOutcome::Loaded);
        assert_eq!(label(&registry).await, format!("cycle {i}"));
    };
    // Warm up: the pool's slots, the allocator's arenas, the cache file.
    for i in 0..40 {
        cycle(i).await;
    }
    let before = crate::support::resident_bytes();
    for i in 40..240 {
        cycle(i).await;
    }
    let after = crate::support::resident_bytes();
    let growth = after.saturating_sub(before);
    eprintln!("resident memory: {} MiB before, {} MiB after 200 reloads", before >> 20, after >> 20);
    assert!(growth < 16 << 20, "resident memory grew by {} MiB over 200 reloads", growth >> 20);
}
