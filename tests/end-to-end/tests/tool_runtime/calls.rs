//! Calls: arguments are checked before the guest runs, unknown functions and over-busy plugins are
//! answered without running anything, and every outcome is counted in the plugin's statistics.

use std::time::Duration;

use end_to_end::plugins::PluginsDir;
use serde_json::json;

use crate::support::{Harness, gated_server, settings};

#[tokio::test]
async fn arguments_that_do_not_match_the_schema_never_reach_the_plugin() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let harness = Harness::start(&dir, |_| {}).await;
    let message = harness.fails("echo", json!({"text": 5}), "invalid_arguments").await;
    assert!(message.starts_with("Invalid arguments for echo: /text: 5 is not of type \"string\""), "{message}");
    let message = harness.fails("echo", json!({}), "invalid_arguments").await;
    assert!(message.contains("\"text\" is a required property"), "{message}");
    let message = harness.fails("echo_http", json!({"path": "/", "method": "DELETE"}), "invalid_arguments").await;
    assert!(message.contains("/method"), "{message}");
    let outcome = harness.call("echo", json!("not an object")).await;
    assert_eq!(outcome.result.unwrap_err().code, "invalid_arguments");
    assert_eq!(outcome.fuel_consumed, None, "the plugin must not have run");
}

#[tokio::test]
async fn an_unknown_function_is_reported_as_such() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let harness = Harness::start(&dir, |_| {}).await;
    let outcome = harness.call("no_such_tool", json!({})).await;
    assert_eq!(outcome.plugin, None);
    assert_eq!(
        outcome.result_text(),
        r#"{"code":"unknown_function","error":true,"message":"Unknown function: no_such_tool"}"#
    );
}

#[tokio::test]
async fn a_plugin_at_its_concurrency_limit_answers_busy() {
    let (server, gate) = gated_server().await;
    let dir = PluginsDir::new();
    dir.add("echo");
    let manifest = dir.manifest("echo").replace("max_concurrent_calls = 128", "max_concurrent_calls = 1");
    dir.write_manifest("echo", &manifest);
    let origin = server.url();
    let harness = Harness::start(&dir, move |config| config.defaults = settings(&[("ECHO_BASE_URL", &origin)])).await;

    let registry = harness.registry.clone();
    let first =
        tokio::spawn(async move { registry.call(crate::support::call("echo_http", json!({"path": "/slow"}))).await });
    server.wait_for_requests(1, Duration::from_secs(10)).await;
    let message = harness.fails("echo", json!({"text": "me too"}), "busy").await;
    assert_eq!(message, "The tool echo is handling too many requests right now. Please try again in a moment.");

    gate.open();
    assert!(first.await.unwrap().result.is_ok());
    harness.echo_still_works().await;
    let stats = &harness.registry.list().await[0].stats;
    assert_eq!((stats.calls, stats.failures_by_code["busy"]), (3, 1));
}

#[tokio::test]
async fn an_exhausted_instance_pool_answers_busy() {
    let (server, gate) = gated_server().await;
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add("egress-probe");
    let origin = server.url();
    let harness = Harness::start(&dir, move |config| {
        config.max_concurrent_calls = 1;
        config.defaults = settings(&[("PROBE_ALLOWED_ORIGIN", &origin), ("PROBE_NAMED_ORIGIN", "http://named.test:1")]);
    })
    .await;
    let registry = harness.registry.clone();
    let url = server.url();
    let first = tokio::spawn(async move { registry.call(crate::support::call("fetch", json!({"url": url}))).await });
    server.wait_for_requests(1, Duration::from_secs(10)).await;
    harness.fails("echo", json!({"text": "x"}), "busy").await;
    gate.open();
    assert!(first.await.unwrap().result.is_ok());
    harness.echo_still_works().await;
}

#[tokio::test]
async fn many_concurrent_calls_all_succeed() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let harness = Harness::start(&dir, |_| {}).await;
    let calls: Vec<_> = (0..48)
        .map(|i| {
            let registry = harness.registry.clone();
            tokio::spawn(async move {
                registry.call(crate::support::call("echo", json!({"text": format!("call {i}")}))).await
            })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let text = call.await.unwrap().result.unwrap();
        assert!(text.contains(&format!("call {i}")), "{text}");
    }
}
