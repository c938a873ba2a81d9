//! Hostile plugins: each is stopped with its own error code, and the host stays unharmed (echo,
//! loaded next to it, still answers).

use std::time::Duration;

use end_to_end::plugins::PluginsDir;
use serde_json::json;
use stand_ins::recording_server::{RecordingServer, reply};

use crate::support::{Harness, point_probe};

/// A plugins directory with echo and the hostile plugin `name`, its manifest replaced by `manifest`.
fn with_hostile(name: &str, manifest: &str) -> PluginsDir {
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add(name);
    dir.write_manifest(name, manifest);
    dir
}

/// The spin loop with a 0.5 s deadline and fuel for about 10^15 instructions: days of work on any
/// machine, so the deadline always stops it first, however fast or slow the machine is.
const SPIN_UNTIL_DEADLINE: &str =
    "name = \"spin-loop\"\nversion = \"1\"\n[limits]\ntimeout_seconds = 0.5\nfuel = 1_000_000_000_000_000\n";

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_the_deadline() {
    let dir = with_hostile("spin-loop", SPIN_UNTIL_DEADLINE);
    let harness = Harness::start(&dir, |_| {}).await;
    let message = harness.fails("spin", json!({}), "timeout").await;
    assert_eq!(message, "The tool spin did not finish within 0.5 seconds and was stopped.");
    harness.echo_still_works().await;
}

#[tokio::test]
async fn an_infinite_loop_with_a_small_budget_is_stopped_by_fuel() {
    let dir = with_hostile(
        "spin-loop",
        "name = \"spin-loop\"\nversion = \"1\"\n[limits]\ntimeout_seconds = 60\nfuel = 20_000_000\n",
    );
    let harness = Harness::start(&dir, |_| {}).await;
    let outcome = harness.call("spin", json!({})).await;
    assert_eq!(outcome.result.as_ref().unwrap_err().code, "fuel_exhausted");
    assert_eq!(outcome.fuel_consumed, Some(20_000_000));
    harness.echo_still_works().await;
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_at_the_memory_limit() {
    let dir =
        with_hostile("memory-bomb", "name = \"memory-bomb\"\nversion = \"1\"\n[limits]\nmemory_bytes = 16_777_216\n");
    let harness = Harness::start(&dir, |_| {}).await;
    let message = harness.fails("allocate", json!({}), "memory_exceeded").await;
    assert_eq!(message, "The tool allocate tried to use more than 16 MiB of memory and was stopped.");
    harness.echo_still_works().await;
}

#[tokio::test]
async fn a_panic_is_a_plugin_trap_and_its_message_reaches_the_operator() {
    let dir = with_hostile("panic", "name = \"panic\"\nversion = \"1\"\n");
    let harness = Harness::start(&dir, |_| {}).await;
    let message = harness.fails("explode", json!({}), "plugin_trap").await;
    assert_eq!(message, "The tool explode failed unexpectedly.");
    let listing = harness.registry.list().await;
    let panic = listing.iter().find(|p| p.name == "panic").unwrap();
    let last = panic.stats.last_error.clone().unwrap();
    assert_eq!(last.code, "plugin_trap");
    assert!(last.detail.unwrap().contains("deliberate panic in the panic plugin"));
    assert_eq!(panic.stats.failures_by_code["plugin_trap"], 1);
    harness.echo_still_works().await;
}

#[tokio::test]
async fn an_oversized_result_is_refused() {
    let dir = with_hostile(
        "oversized-result",
        "name = \"oversized-result\"\nversion = \"1\"\n[limits]\nmemory_bytes = 67_108_864\nmax_result_bytes = 65_536\n",
    );
    let harness = Harness::start(&dir, |_| {}).await;
    let message = harness.fails("flood", json!({"megabytes": 2}), "result_too_large").await;
    assert_eq!(message, "The tool flood produced a result of 2 MiB, more than the 64 KiB allowed.");
    harness.echo_still_works().await;
}

/// The egress probe allowed to reach `allowed` (by address) and `named` (by a name the test resolves).
async fn egress_probe(
    allowed: &RecordingServer,
    named: &str,
    resolve_to: &str,
    timeout: &str,
) -> (PluginsDir, Harness) {
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add("egress-probe");
    let manifest = dir.manifest("egress-probe").replace("timeout_seconds = 3", &format!("timeout_seconds = {timeout}"));
    dir.write_manifest("egress-probe", &manifest);
    let (allowed_url, named) = (allowed.url(), named.to_string());
    let resolve_to = resolve_to.parse().unwrap();
    let harness = Harness::start(&dir, move |config| {
        point_probe(config, &allowed_url, &named);
        let host = named.trim_start_matches("http://").split(':').next().unwrap().to_string();
        config.resolve.insert(host, vec![resolve_to]);
    })
    .await;
    (dir, harness)
}

#[tokio::test]
async fn a_call_to_an_origin_not_allowed_is_denied() {
    let allowed = RecordingServer::json(json!({"ok": true})).await;
    let forbidden = RecordingServer::json(json!({"secret": "internal"})).await;
    let (_dir, harness) = egress_probe(&allowed, "http://named.test:1", "192.0.2.1", "3").await;
    let message = harness.fails("fetch", json!({"url": format!("{}/data", forbidden.url())}), "egress_denied").await;
    assert_eq!(
        message,
        format!("The tool fetch tried to reach {}, which it is not allowed to contact.", forbidden.url())
    );
    assert!(forbidden.requests().is_empty());
    // The allowed origin is reachable.
    let result = harness.ok("fetch", json!({"url": format!("{}/data", allowed.url())})).await;
    assert_eq!(result["status"], 200);
    assert_eq!(allowed.requests()[0].path, "/data");
    harness.echo_still_works().await;
}

#[tokio::test]
async fn an_allowed_name_resolving_to_loopback_is_denied() {
    let target = RecordingServer::json(json!({"internal": true})).await;
    let named = format!("http://rebound.test:{}", target.port());
    let (_dir, harness) = egress_probe(&target, &named, "127.0.0.1", "3").await;
    let message = harness.fails("fetch", json!({"url": format!("{named}/admin")}), "egress_denied").await;
    assert_eq!(
        message,
        "The tool fetch tried to reach rebound.test, which resolves to a loopback address; that is not allowed."
    );
    assert!(target.requests().is_empty(), "the loopback server must not be contacted");
    harness.echo_still_works().await;
}

#[tokio::test]
async fn an_allowed_name_resolving_to_the_metadata_service_is_denied() {
    let allowed = RecordingServer::json(json!({})).await;
    let (_dir, harness) = egress_probe(&allowed, "http://metadata.test:80", "169.254.169.254", "3").await;
    let message = harness
        .fails(
            "fetch",
            json!({"url": "http://metadata.test/latest/meta-data/iam/security-credentials/"}),
            "egress_denied",
        )
        .await;
    assert!(message.contains("resolves to the cloud metadata service"), "{message}");
    harness.echo_still_works().await;
}

#[tokio::test]
async fn a_redirect_cannot_lead_off_the_allow_list() {
    let forbidden = RecordingServer::json(json!({"secret": "internal"})).await;
    let location = format!("{}/steal", forbidden.url());
    let allowed = RecordingServer::start(move |_| {
        let location = location.clone();
        async move { reply::redirect(&location) }
    })
    .await;
    let (_dir, harness) = egress_probe(&allowed, "http://named.test:1", "192.0.2.1", "3").await;

    // The host never follows a redirect itself: the guest gets the 302.
    let result = harness.ok("fetch", json!({"url": allowed.url()})).await;
    assert_eq!(result["status"], 302);
    // Following it is a new request, checked like any other.
    let message = harness.fails("fetch", json!({"url": allowed.url(), "follow_redirects": 5}), "egress_denied").await;
    assert!(message.contains(&forbidden.url()), "{message}");
    assert_eq!(allowed.requests().len(), 2);
    assert!(forbidden.requests().is_empty());
    harness.echo_still_works().await;
}

#[tokio::test]
async fn a_server_that_never_answers_is_cut_at_the_deadline() {
    let silent = RecordingServer::start(|_| futures::future::pending()).await;
    let (_dir, harness) = egress_probe(&silent, "http://named.test:1", "192.0.2.1", "1").await;
    let message = harness.fails("fetch", json!({"url": silent.url()}), "timeout").await;
    assert_eq!(message, "The tool fetch did not finish within 1 second and was stopped.");
    assert_eq!(silent.requests().len(), 1);
    harness.echo_still_works().await;
}

#[tokio::test]
async fn a_one_gigabyte_response_is_cut_at_the_response_limit() {
    let huge =
        RecordingServer::start(|request| async move { reply::stream(1 << 30, request.path == "/with-length") }).await;
    let (_dir, harness) = egress_probe(&huge, "http://named.test:1", "192.0.2.1", "30").await;
    for path in ["/streamed", "/with-length"] {
        let message =
            harness.fails("fetch", json!({"url": format!("{}{path}", huge.url())}), "response_too_large").await;
        assert_eq!(message, "A response to the tool fetch was larger than the 1 MiB allowed and was cut off.");
    }
    harness.echo_still_works().await;
}

#[tokio::test]
async fn hostile_calls_in_parallel_leave_the_host_serving() {
    let silent = RecordingServer::start(|_| futures::future::pending()).await;
    let dir = PluginsDir::new();
    for plugin in ["echo", "spin-loop", "memory-bomb", "panic", "egress-probe"] {
        dir.add(plugin);
    }
    dir.write_manifest("spin-loop", SPIN_UNTIL_DEADLINE);
    let url = silent.url();
    let harness = Harness::start(&dir, move |config| {
        point_probe(config, &url, "http://named.test:1");
    })
    .await;
    let calls = [
        ("spin", json!({}), "timeout"),
        ("allocate", json!({}), "memory_exceeded"),
        ("explode", json!({}), "plugin_trap"),
        ("fetch", json!({"url": silent.url()}), "timeout"),
    ];
    let mut running = Vec::new();
    for round in 0..4 {
        for (function, arguments, code) in calls.clone() {
            let registry = harness.registry.clone();
            running.push(tokio::spawn(async move {
                let outcome = registry.call(crate::support::call(function, arguments)).await;
                assert_eq!(outcome.result.unwrap_err().code, code, "{function} in round {round}");
            }));
        }
    }
    for call in running {
        call.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    harness.echo_still_works().await;
}

#[tokio::test]
async fn a_request_storm_is_stopped() {
    let looping = RecordingServer::start(|request| async move { reply::redirect(&request.path) }).await;
    let (_dir, harness) = egress_probe(&looping, "http://named.test:1", "192.0.2.1", "10").await;
    let message = harness
        .fails("fetch", json!({"url": format!("{}/again", looping.url()), "follow_redirects": 1000}), "egress_denied")
        .await;
    assert_eq!(message, "The tool fetch sent more than 64 requests in one call and was stopped.");
    assert_eq!(looping.requests().len(), 64);
    harness.echo_still_works().await;
}

/// The hostile plugins written in Python and JavaScript (`plugins/hostile-polyglot`): the loop's
/// and the bomb's plugin and function in each language.
const POLYGLOT_LOOPS: [(&str, &str); 2] = [("spin-loop-py", "spin_py"), ("spin-loop-js", "spin_js")];
const POLYGLOT_BOMBS: [(&str, &str); 2] = [("memory-bomb-py", "allocate_py"), ("memory-bomb-js", "allocate_js")];

/// Their compiled artifacts are kept across these tests (the cache is keyed by the component's
/// hash): an interpreter-sized component is compiled once, with all the time a loaded machine needs
/// (these tests are about the limits of a call, not of a compile).
fn polyglot_config(config: &mut tools::RuntimeConfig) {
    config.cache_dir = std::env::temp_dir().join("amakaflow-hostile-polyglot-cache");
    config.compile_timeout = Duration::from_secs(900);
}

#[tokio::test]
async fn python_and_javascript_infinite_loops_are_stopped_by_the_deadline() {
    for (plugin, function) in POLYGLOT_LOOPS {
        let manifest = format!(
            "name = \"{plugin}\"\nversion = \"1\"\n[limits]\ntimeout_seconds = 0.5\nfuel = 1_000_000_000_000_000\n"
        );
        let harness = Harness::start(&with_hostile(plugin, &manifest), polyglot_config).await;
        let message = harness.fails(function, json!({}), "timeout").await;
        assert_eq!(message, format!("The tool {function} did not finish within 0.5 seconds and was stopped."));
        harness.echo_still_works().await;
    }
}

#[tokio::test]
async fn python_and_javascript_infinite_loops_with_a_small_budget_are_stopped_by_fuel() {
    for (plugin, function) in POLYGLOT_LOOPS {
        let manifest =
            format!("name = \"{plugin}\"\nversion = \"1\"\n[limits]\ntimeout_seconds = 60\nfuel = 50_000_000\n");
        let harness = Harness::start(&with_hostile(plugin, &manifest), polyglot_config).await;
        let outcome = harness.call(function, json!({})).await;
        assert_eq!(outcome.result.as_ref().unwrap_err().code, "fuel_exhausted", "{function}");
        assert_eq!(outcome.fuel_consumed, Some(50_000_000), "{function}");
        harness.echo_still_works().await;
    }
}

#[tokio::test]
async fn python_and_javascript_memory_bombs_are_stopped_at_the_memory_limit() {
    for (plugin, function) in POLYGLOT_BOMBS {
        let manifest = format!("name = \"{plugin}\"\nversion = \"1\"\n[limits]\nmemory_bytes = 67_108_864\n");
        let harness = Harness::start(&with_hostile(plugin, &manifest), polyglot_config).await;
        let message = harness.fails(function, json!({}), "memory_exceeded").await;
        assert_eq!(message, format!("The tool {function} tried to use more than 64 MiB of memory and was stopped."));
        harness.echo_still_works().await;
    }
}
