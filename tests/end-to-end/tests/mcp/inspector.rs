//! The MCP Inspector's CLI (`@modelcontextprotocol/inspector` on npm) lists the tools and calls one.

use serde_json::Value;
use tokio::process::Command;

use super::clients::installed;
use super::{ALICE, McpWorld, PATIENCE};

async fn inspector(world: &McpWorld, args: &[&str]) -> Value {
    let authorization = format!("Authorization: {}", world.bearer(ALICE));
    let mut command = Command::new("node");
    command
        .arg(installed("mcp-inspector/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"))
        .args(["--cli", &world.mcp_url(), "--transport", "http", "--header", &authorization])
        .args(args)
        .kill_on_drop(true);
    let output =
        tokio::time::timeout(PATIENCE, command.output()).await.expect("the Inspector finishes").expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the Inspector failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("the Inspector's JSON ({err}): {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_lists_the_tools_and_calls_one() {
    let world = McpWorld::start().await;
    let listed = inspector(&world, &["--method", "tools/list"]).await;
    assert_eq!(listed["tools"].as_array().map(Vec::len), Some(27), "{listed}");
    let called = inspector(
        &world,
        &["--method", "tools/call", "--tool-name", "navigate_to_page", "--tool-arg", "page=calendar"],
    )
    .await;
    assert_eq!(called["isError"], false, "{called}");
    assert_eq!(called["structuredContent"], serde_json::json!({"action": "navigate", "page": "calendar"}));
}
