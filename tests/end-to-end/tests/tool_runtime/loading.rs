//! Loading plugins: what the registry accepts, and every reason it refuses a plugin, while the
//! other plugins keep loading and serving.

use end_to_end::plugins::PluginsDir;
use serde_json::json;
use sha2::{Digest, Sha256};
use tools::{LoadStage, PluginStatus, ReloadOutcome};

use crate::support::Harness;

/// The stage and message of the rejection of directory `dir`.
async fn rejection(harness: &Harness, dir: &str) -> (LoadStage, String) {
    let listing = harness.registry.list().await;
    let entry = listing
        .iter()
        .find(|p| p.dir.file_name().is_some_and(|n| n == dir))
        .unwrap_or_else(|| panic!("{dir} is not listed: {listing:?}"));
    let rejection = entry.last_rejection.clone().unwrap_or_else(|| panic!("{dir} was not rejected: {entry:?}"));
    (rejection.error.stage, rejection.error.message)
}

#[tokio::test]
async fn the_example_plugin_loads_and_offers_its_functions() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let harness = Harness::start(&dir, |_| {}).await;
    assert!(harness.registry.is_ready());
    let functions = harness.registry.functions();
    let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["echo", "echo_http"]);
    let echo = &functions[0];
    assert_eq!(echo.plugin, "echo");
    assert_eq!(echo.parameters["type"], "object");
    assert_eq!(echo.parameters["required"], json!(["text"]));
    assert_eq!(echo.parameters["properties"]["text"]["description"], "The text to send back.");

    let result = harness.ok("echo", json!({"text": "hello"})).await;
    assert_eq!(result, json!({"echo": "hello", "user_id": "user-1", "label": "echo 0.1.0"}));

    let listing = harness.registry.list().await;
    assert_eq!(listing.len(), 1);
    assert_eq!(listing[0].status, PluginStatus::Loaded);
    assert_eq!(listing[0].version.as_deref(), Some("0.1.0"));
    assert_eq!(listing[0].sha256.as_deref(), Some(hex::encode(Sha256::digest(dir.wasm("echo"))).as_str()));
    assert_eq!(listing[0].stats.calls, 1);
}

#[tokio::test]
async fn an_empty_directory_is_ready_with_no_functions() {
    let dir = PluginsDir::new();
    let harness = Harness::start(&dir, |_| {}).await;
    assert!(harness.registry.is_ready());
    assert!(harness.registry.functions().is_empty());
    harness.fails("echo", json!({"text": "x"}), "unknown_function").await;
}

#[tokio::test]
async fn a_corrupt_component_is_rejected_and_the_others_load() {
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add_as("echo", "corrupt");
    dir.write_manifest("corrupt", "name = \"corrupt\"\nversion = \"1\"\n");
    let mut bytes = dir.wasm("corrupt");
    bytes.truncate(bytes.len() / 2);
    dir.write_wasm("corrupt", &bytes);
    dir.add_as("echo", "garbage");
    dir.write_manifest("garbage", "name = \"garbage\"\nversion = \"1\"\n");
    dir.write_wasm("garbage", b"this is not webassembly");

    let harness = Harness::start(&dir, |_| {}).await;
    for broken in ["corrupt", "garbage"] {
        let (stage, message) = rejection(&harness, broken).await;
        assert_eq!(stage, LoadStage::Compile, "{broken}: {message}");
        assert!(message.contains("not a valid WebAssembly component"), "{message}");
    }
    harness.echo_still_works().await;
}

#[tokio::test]
async fn a_component_of_another_world_is_rejected_before_it_runs() {
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add("wrong-world");
    let harness = Harness::start(&dir, |_| {}).await;
    let (stage, message) = rejection(&harness, "wrong-world").await;
    assert_eq!(stage, LoadStage::Link, "{message}");
    assert!(message.contains("amakaflow:tool/tool"), "{message}");
    harness.echo_still_works().await;
}

#[tokio::test]
async fn a_sha256_pin_must_match_the_component() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let manifest = dir.manifest("echo");
    let actual = hex::encode(Sha256::digest(dir.wasm("echo")));
    dir.write_manifest(
        "echo",
        &manifest.replacen("version = \"0.1.0\"", &format!("version = \"0.1.0\"\nsha256 = \"{}\"", "0".repeat(64)), 1),
    );
    let harness = Harness::start(&dir, |_| {}).await;
    let (stage, message) = rejection(&harness, "echo").await;
    assert_eq!(stage, LoadStage::Pin);
    assert!(message.contains(&actual), "{message}");
    assert!(harness.registry.functions().is_empty());

    // The right pin loads.
    dir.write_manifest(
        "echo",
        &manifest.replacen("version = \"0.1.0\"", &format!("version = \"0.1.0\"\nsha256 = \"{actual}\""), 1),
    );
    let report = harness.registry.reload("echo").await.unwrap();
    assert_eq!(report.outcome, ReloadOutcome::Loaded, "{report:?}");
    harness.echo_still_works().await;
}

#[tokio::test]
async fn invalid_schemas_and_names_are_rejected_with_their_reason() {
    let cases = [
        ("invalid_schema", "the schema is invalid"),
        ("not_json", "the schema is not JSON"),
        ("root_not_object", "root must be"),
        ("bad_name", "the name must match"),
        ("duplicate_name", "described twice"),
    ];
    let dir = PluginsDir::new();
    dir.add("echo");
    for (variant, _) in cases {
        dir.add_as("bad-schema", variant);
        dir.write_manifest(
            variant,
            &format!(
                "name = \"bad-{}\"\nversion = \"1\"\n[config]\nvariant = \"{variant}\"\n",
                variant.replace('_', "-")
            ),
        );
    }
    let harness = Harness::start(&dir, |_| {}).await;
    for (variant, expected) in cases {
        let (stage, message) = rejection(&harness, variant).await;
        assert_eq!(stage, LoadStage::Schema, "{variant}: {message}");
        assert!(message.contains(expected), "{variant}: {message}");
    }
    assert_eq!(harness.registry.functions().len(), 2);
    harness.echo_still_works().await;
}

#[tokio::test]
async fn two_plugins_cannot_claim_one_function_name() {
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add("name-clash");
    let harness = Harness::start(&dir, |_| {}).await;
    let (stage, message) = rejection(&harness, "name-clash").await;
    assert_eq!(stage, LoadStage::Conflict);
    assert_eq!(message, "function echo is already offered by plugin echo");
    // The first plugin keeps the name and serves it.
    let result = harness.ok("echo", json!({"text": "mine"})).await;
    assert_eq!(result["echo"], "mine");
}

#[tokio::test]
async fn two_directories_cannot_hold_one_plugin_name() {
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add_as("echo", "echo-copy");
    let harness = Harness::start(&dir, |_| {}).await;
    let (stage, message) = rejection(&harness, "echo-copy").await;
    assert_eq!(stage, LoadStage::Conflict);
    assert!(message.contains("a plugin named echo is already loaded"), "{message}");
}

#[tokio::test]
async fn manifest_mistakes_are_rejected_naming_the_key() {
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add_as("echo", "unknown-key");
    dir.write_manifest("unknown-key", "name = \"unknown-key\"\nversion = \"1\"\n[limits]\ntimeout = 5\n");
    dir.add_as("echo", "missing-env");
    dir.write_manifest(
        "missing-env",
        "name = \"missing-env\"\nversion = \"1\"\n[[egress]]\norigin = \"${setting:NOT_SET_ANYWHERE}\"\n",
    );
    dir.add_as("echo", "no-manifest");
    std::fs::remove_file(dir.path().join("no-manifest/plugin.toml")).unwrap();

    let harness = Harness::start(&dir, |_| {}).await;
    let (stage, message) = rejection(&harness, "unknown-key").await;
    assert_eq!(stage, LoadStage::Manifest);
    assert!(message.contains("unknown field `timeout`"), "{message}");
    let (stage, message) = rejection(&harness, "missing-env").await;
    assert_eq!(stage, LoadStage::Manifest);
    assert!(message.contains("egress[0].origin: setting NOT_SET_ANYWHERE is not set"), "{message}");
    let (stage, message) = rejection(&harness, "no-manifest").await;
    assert_eq!(stage, LoadStage::Read);
    assert!(message.contains("plugin.toml"), "{message}");
    harness.echo_still_works().await;
}

#[tokio::test]
async fn the_on_demand_allocator_serves_calls_too() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let harness = Harness::start(&dir, |config| config.pooling = false).await;
    assert!(!harness.registry.pooling());
    harness.echo_still_works().await;
}

#[tokio::test]
async fn the_author_check_reports_what_the_registry_would() {
    let _process = crate::support::shared_process().await;
    let dir = PluginsDir::new();
    let echo = dir.add("echo");
    let config = crate::support::config(&dir);
    let check = tools::author::check(&echo.join("plugin.wasm"), None, config.clone()).await.unwrap();
    assert_eq!((check.name.as_str(), check.version.as_str()), ("echo", "0.1.0"));
    assert_eq!(check.functions.len(), 2);
    assert_eq!(check.egress, ["http://localhost:8001"]);
    assert_eq!(check.config_keys, ["base_url", "label"]);

    let wrong = dir.add("wrong-world");
    let err = tools::author::check(&wrong, None, config).await.unwrap_err();
    assert_eq!(err.stage, LoadStage::Link);
}

#[tokio::test]
async fn a_compile_past_its_time_limit_is_abandoned_and_rejected() {
    let dir = PluginsDir::new();
    dir.add("echo");
    // No time at all: a compile on its own thread has not finished when the limit is first checked.
    let harness = Harness::start(&dir, |config| config.compile_timeout = std::time::Duration::ZERO).await;
    assert!(harness.registry.functions().is_empty());
    let (stage, message) = rejection(&harness, "echo").await;
    assert_eq!(stage, LoadStage::Compile);
    assert_eq!(message, "compiling did not finish within 0 s; the load was abandoned");
    assert!(harness.registry.loading().is_empty(), "the abandoned load is not listed as running");
}
