//! A new tool author's path, in each language, scripted from an empty directory as the author
//! would type it: `chat-api plugins new NAME --lang rust|python|js`, the generated `build.sh`
//! (cargo, componentize-py, componentize-js), `chat-api plugins check`, an upload through the admin
//! API of a running service, and a chat turn in which the model is offered the new tool, calls it
//! and gets its result.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;
use end_to_end::plugin_admin;
use end_to_end::server::{TestServer, as_test_user, test_config};
use end_to_end::sse_client::read_stream;
use serde_json::{Value, json};
use stand_ins::anthropic::{Reply, StandIn};
use store::testing::TestDatabase;

const ADMIN_KEY: &str = "admin-key-of-the-plugin-authoring-suite";

/// A Python or JavaScript component carries its interpreter: its first compile may take minutes on
/// a loaded machine. This suite is about the author's path, not the compile limit.
const COMPILE_TIMEOUT: (&str, &str) = ("PLUGIN_COMPILE_TIMEOUT_SECONDS", "900");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_python_plugin_builds_checks_uploads_and_is_offered_in_a_chat() {
    author_a_plugin("greeter-py", "python", r#"{"message": "Hello, Ada!"}"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_javascript_plugin_builds_checks_uploads_and_is_offered_in_a_chat() {
    author_a_plugin("greeter-js", "js", r#"{"message":"Hello, Ada!"}"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_rust_plugin_builds_checks_uploads_and_is_offered_in_a_chat() {
    author_a_plugin("greeter-rs", "rust", r#"{"message":"Hello, Ada!"}"#).await;
}

#[tokio::test]
async fn plugins_new_refuses_a_bad_name_and_an_existing_directory() {
    let workspace = tempfile::tempdir().expect("a temporary directory");
    let dir = workspace.path().to_str().expect("a UTF-8 path");
    for name in ["Greeter", "../escape", "9lives"] {
        assert_eq!(chat_api(&["plugins", "new", name, "--lang", "python", "--dir", dir]).await, ExitCode::from(2));
    }
    assert_eq!(std::fs::read_dir(workspace.path()).unwrap().count(), 0, "nothing was written");
    assert_eq!(chat_api(&["plugins", "new", "taken", "--lang", "js", "--dir", dir]).await, ExitCode::SUCCESS);
    let app = std::fs::read_to_string(workspace.path().join("taken/app.js")).unwrap();
    std::fs::write(workspace.path().join("taken/app.js"), "// the author's work\n").unwrap();
    assert_eq!(chat_api(&["plugins", "new", "taken", "--lang", "js", "--dir", dir]).await, ExitCode::from(2));
    assert_ne!(std::fs::read_to_string(workspace.path().join("taken/app.js")).unwrap(), app, "nothing overwritten");
    assert!(host::cli::Cli::try_parse_from(["chat-api", "plugins", "new", "x", "--lang", "cobol"]).is_err());
}

async fn author_a_plugin(name: &str, lang: &str, expected_result: &str) {
    let function = name.replace('-', "_");
    // An empty directory, as a new author starts.
    let workspace = tempfile::tempdir().expect("a temporary directory");
    let dir = workspace.path().join(name);
    let dir_text = dir.to_str().expect("a UTF-8 path");

    let created =
        chat_api(&["plugins", "new", name, "--lang", lang, "--dir", workspace.path().to_str().unwrap()]).await;
    assert_eq!(created, ExitCode::SUCCESS);
    end_to_end::toolchains::run_build_script(&dir, lang.parse().expect("a language"));
    assert_eq!(chat_api(&["plugins", "check", dir_text]).await, ExitCode::SUCCESS, "plugins check {name}");
    // `chat-api plugins test DIR` (the cases of the generated plugin.tests.toml) belongs here once
    // the author loop lands.

    let anthropic = StandIn::start().await;
    let anthropic_url = anthropic.url();
    // The artifact `plugins check` compiled (the author commands' cache, keyed by the component's
    // hash): an interpreter-sized component is compiled once.
    let cache = std::env::temp_dir().join("amakaflow-plugin-cache").to_string_lossy().into_owned();
    let db = TestDatabase::sqlite().await.expect("a database");
    let server = TestServer::start(
        &[
            ("ANTHROPIC_BASE_URL", anthropic_url.as_str()),
            ("ANTHROPIC_API_KEY", "sk-ant-plugin-authoring"),
            ("ADMIN_API_KEY", ADMIN_KEY),
            ("PLUGIN_CACHE_DIR", cache.as_str()),
            COMPILE_TIMEOUT,
        ],
        db,
    )
    .await
    .expect("the service starts");
    let manifest = std::fs::read_to_string(dir.join("plugin.toml")).expect("plugin.toml");
    let wasm = std::fs::read(dir.join("plugin.wasm")).expect("plugin.wasm");
    let (status, report) = plugin_admin::upload(&server, ADMIN_KEY, &manifest, &wasm, None).await;
    assert_eq!((status, report["outcome"].as_str()), (201, Some("loaded")), "{report}");

    anthropic.push(Reply::tool_use("toolu_greet", &function, r#"{"name": "Ada"}"#));
    anthropic.push(Reply::text("Greeted."));
    let request = as_test_user(server.client().post(server.url("/chat/stream")), "user_new_author")
        .json(&json!({"message": "Greet Ada"}));
    let stream = read_stream(request, Duration::from_secs(60)).await.expect("a chat stream");

    let offered = &anthropic.requests()[0].json()["tools"];
    let tool = offered.as_array().expect("tools").iter().find(|t| t["name"] == function.as_str());
    let tool = tool.unwrap_or_else(|| panic!("{function} is not offered: {offered}"));
    assert_eq!(tool["input_schema"]["required"], json!(["name"]), "{tool}");
    let results: Vec<&Value> = stream.all("function_result").iter().map(|e| &e.data).collect();
    assert_eq!(results, [&json!({"tool_use_id": "toolu_greet", "name": function, "result": expected_result})]);
}

/// Runs `chat-api ARGS` in this process (the binary's own argument parsing and code), with a test
/// configuration.
async fn chat_api(args: &[&str]) -> ExitCode {
    let cli = host::cli::Cli::try_parse_from(std::iter::once("chat-api").chain(args.iter().copied()))
        .unwrap_or_else(|err| panic!("chat-api {args:?}: {err}"));
    host::cli::run(cli, test_config(&[COMPILE_TIMEOUT]).expect("a test configuration")).await
}
