//! Hostile plugins against the ceilings across calls and at load: the memory budget of all running
//! calls, the cap on a call's outgoing requests in flight, a stalled request left behind, a huge
//! initial memory, unbounded recursion. Each is stopped with its own code or refused at load, and
//! the host keeps serving another plugin meanwhile.

use std::time::{Duration, Instant};

use end_to_end::plugins::PluginsDir;
use end_to_end::poll::poll_until;
use serde_json::json;
use store::testing::TestDatabase;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tools::{HostServices, LoadStage, Registry};

use crate::support::{Harness, call, exclusive_process, gated_server, point_at, resident_bytes};

/// A plugins directory with echo and the hostile plugin `name`.
fn with_hostile(name: &str) -> PluginsDir {
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add(name);
    dir
}

/// The stage and message of the rejection of plugin directory `dir`.
async fn rejection(registry: &Registry, dir: &str) -> (LoadStage, String) {
    let listing = registry.list().await;
    let entry = listing.iter().find(|p| p.dir.file_name().is_some_and(|n| n == dir)).expect("listed");
    let rejection = entry.last_rejection.clone().unwrap_or_else(|| panic!("{dir} was not rejected: {entry:?}"));
    (rejection.error.stage, rejection.error.message)
}

const MIB: u64 = 1 << 20;
/// memory-hog's `memory_bytes`; each call fills 120 MiB of it.
const HOG_LIMIT: u64 = 128 * MIB;
/// echo's `memory_bytes`.
const ECHO_LIMIT: u64 = 32 * MIB;
/// Room for four hogs, and for echo beside them (the host serving another plugin meanwhile).
const HOG_BUDGET: u64 = 4 * HOG_LIMIT + ECHO_LIMIT;
/// What the process holds besides the guests' memory: compiled code, the runtime, the test harness.
const RESIDENT_MARGIN: u64 = 256 * MIB;

#[tokio::test]
async fn sixty_four_memory_hogs_run_four_at_a_time_within_the_memory_budget() {
    // Measures the process's resident memory: no other registry runs meanwhile.
    let _alone = exclusive_process().await;
    let (server, gate) = gated_server().await;
    let dir = with_hostile("memory-hog");
    let mut config = crate::support::config(&dir);
    point_at(&mut config, "HOG_ORIGIN", &server.url());
    config.memory_budget_bytes = HOG_BUDGET;
    config.memory_wait = Duration::from_millis(200);
    let db = TestDatabase::sqlite().await.expect("a test database");
    let registry = Registry::load(config, HostServices::new(db.store.clone())).await.expect("starting the runtime");

    let calls: Vec<_> = (0..64)
        .map(|_| {
            let registry = registry.clone();
            tokio::spawn(async move { registry.call(call("hold", json!({}))).await })
        })
        .collect();
    // Four calls fit: each fills its memory and waits at the gate, holding it. Every other call
    // waits for memory that is not given back, and is answered `busy`.
    poll_until(Duration::from_secs(60), "60 calls answered busy", async || {
        let finished = calls.iter().filter(|c| c.is_finished()).count();
        if finished == 60 { Ok(()) } else { Err(format!("{finished} answered")) }
    })
    .await;
    poll_until(Duration::from_secs(60), "four hogs at the gated server", async || {
        let seen = server.request_count();
        if seen == 4 { Ok(()) } else { Err(format!("{seen} requests")) }
    })
    .await;
    let resident = resident_bytes();
    eprintln!("resident memory with four hogs holding 120 MiB each: {} MiB", resident >> 20);
    assert!(
        resident < HOG_BUDGET + RESIDENT_MARGIN,
        "resident memory {} MiB is over the budget of {} MiB plus {} MiB",
        resident >> 20,
        HOG_BUDGET >> 20,
        RESIDENT_MARGIN >> 20
    );
    let echo = registry.call(call("echo", json!({"text": "meanwhile"}))).await;
    assert!(echo.result.is_ok(), "echo while the hogs hold the budget: {:?}", echo.result);

    gate.open();
    let mut codes = Vec::new();
    for running in calls {
        let outcome = running.await.unwrap();
        codes.push(outcome.result.map(|_| "ok".to_string()).unwrap_or_else(|err| err.code));
    }
    assert_eq!(codes.iter().filter(|c| *c == "ok").count(), 4, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "busy").count(), 60, "{codes:?}");
    assert_eq!(server.request_count(), 4, "no more than four ever held their memory");
    let hog = registry.list().await.into_iter().find(|p| p.name == "memory-hog").unwrap();
    let detail = hog.stats.last_error.and_then(|e| e.detail).unwrap_or_default();
    assert!(detail.contains("memory budget"), "{detail}");
}

#[tokio::test]
async fn a_plugin_whose_memory_limit_exceeds_the_budget_is_refused_at_load() {
    let dir = with_hostile("memory-hog");
    let harness = Harness::start(&dir, |config| {
        point_at(config, "HOG_ORIGIN", "http://127.0.0.1:9");
        config.memory_budget_bytes = 64 * MIB;
    })
    .await;
    let (stage, message) = rejection(&harness.registry, "memory-hog").await;
    assert_eq!(stage, LoadStage::Manifest);
    assert_eq!(
        message,
        "limits.memory_bytes: 128 MiB is more than the memory budget of all running calls \
         (64 MiB, PLUGIN_MEMORY_BUDGET_BYTES)"
    );
    harness.echo_still_works().await;
}

#[tokio::test]
async fn a_huge_initial_memory_is_refused_at_load_not_per_call() {
    let dir = with_hostile("huge-memory");
    let harness = Harness::start(&dir, |_| {}).await;
    let (stage, message) = rejection(&harness.registry, "huge-memory").await;
    assert_eq!(stage, LoadStage::Compile);
    assert!(message.contains("more than the plugin's memory limit of 64 MiB (limits.memory_bytes)"), "{message}");
    assert!(message.starts_with("the component's initial memory is 1"), "{message}");
    assert!(harness.registry.functions().iter().all(|f| f.plugin != "huge-memory"));
    harness.fails("noop", json!({}), "unknown_function").await;
    harness.echo_still_works().await;
}

#[tokio::test]
async fn unbounded_recursion_is_a_plugin_trap() {
    let dir = with_hostile("deep-recursion");
    let harness = Harness::start(&dir, |_| {}).await;
    let message = harness.fails("recurse", json!({}), "plugin_trap").await;
    assert_eq!(message, "The tool recurse failed unexpectedly.");
    let listing = harness.registry.list().await;
    let plugin = listing.iter().find(|p| p.name == "deep-recursion").unwrap();
    let detail = plugin.stats.last_error.clone().and_then(|e| e.detail).unwrap_or_default();
    eprintln!("deep recursion ended with: {detail}");
    harness.echo_still_works().await;
}

#[tokio::test]
async fn requests_opened_all_at_once_are_capped_in_flight() {
    let (server, gate) = gated_server().await;
    let dir = with_hostile("request-flood");
    let origin = server.url();
    let harness = Harness::start(&dir, |config| point_at(config, "FLOOD_ORIGIN", &origin)).await;
    let registry = harness.registry.clone();
    let flood = tokio::spawn(async move { registry.call(call("flood", json!({"count": 64}))).await });

    // The guest opened 64 requests before it waits on the first: the cap (8, the manifest
    // default) reached the server, the rest were refused on the spot.
    poll_until(Duration::from_secs(30), "the first round at the gated server", async || {
        let seen = server.request_count();
        if seen == 8 { Ok(()) } else { Err(format!("{seen} requests")) }
    })
    .await;
    assert_eq!(harness.registry.egress_requests_in_flight(), 8);
    harness.echo_still_works().await;

    gate.open();
    let outcome = flood.await.unwrap();
    let result: serde_json::Value = serde_json::from_str(&outcome.result.expect("the call ends cleanly")).unwrap();
    let round = json!({"answered": 8, "refused": 56, "other": []});
    // The second round got the first round's slots back: the responses were dropped.
    assert_eq!(result, json!({"rounds": [round, round]}));
    assert_eq!(server.request_count(), 16);
    poll_until(Duration::from_secs(10), "no request left in flight", async || {
        let left = harness.registry.egress_requests_in_flight();
        if left == 0 { Ok(()) } else { Err(format!("{left} in flight")) }
    })
    .await;
}

/// A server that accepts one connection and reads from it until the client hangs up.
struct HangUpWatcher {
    url: String,
    /// When the client hung up, and what it sent.
    hung_up: oneshot::Receiver<(Instant, Vec<u8>)>,
}

impl HangUpWatcher {
    async fn start() -> HangUpWatcher {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, hung_up) = oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut received = Vec::new();
            let mut buffer = [0u8; 4096];
            // Ends at EOF (0) or a reset (an error): either way the client is gone.
            while let Ok(n @ 1..) = socket.read(&mut buffer).await {
                received.extend_from_slice(&buffer[..n]);
            }
            let _ = tx.send((Instant::now(), received));
        });
        HangUpWatcher { url, hung_up }
    }
}

#[tokio::test]
async fn a_stalled_post_is_hung_up_by_the_deadline_and_leaves_nothing_behind() {
    let watcher = HangUpWatcher::start().await;
    let dir = with_hostile("stalled-post");
    let url = watcher.url.clone();
    let harness = Harness::start(&dir, |config| point_at(config, "STALL_ORIGIN", &url)).await;

    let started = Instant::now();
    let message = harness.fails("stall", json!({}), "timeout").await;
    assert_eq!(message, "The tool stall did not finish within 1 second and was stopped.");
    let (hung_up, received) =
        tokio::time::timeout(Duration::from_secs(30), watcher.hung_up).await.expect("the host hung up").unwrap();
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("POST /stalled"), "{received}");
    assert!(received.contains("the start of a body that never ends"), "{received}");
    let after = hung_up - started;
    assert!(after < Duration::from_secs(2), "the server saw the end {after:?} after the call started (deadline 1 s)");

    poll_until(Duration::from_secs(10), "no request left in flight", async || {
        let left = harness.registry.egress_requests_in_flight();
        if left == 0 { Ok(()) } else { Err(format!("{left} in flight")) }
    })
    .await;
    harness.echo_still_works().await;
}
