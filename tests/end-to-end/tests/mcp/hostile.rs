//! Hostile JSON-RPC on an open session: malformed JSON, batches, an oversized body, unknown
//! methods and tools, the wrong protocol version, params of the wrong shape. Each is a clear
//! JSON-RPC or HTTP error, and none runs a tool or spends the user's hourly calls: with a limit of
//! one call, the one good call afterwards still runs.

use end_to_end::clock_window::{Window, within_one_window};
use serde_json::{Value, json};

use super::raw::{Reply, open_session, post, request, session_headers};
use super::{ALICE, McpWorld};

fn error_code(reply: &Reply) -> i64 {
    reply.message()["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("a JSON-RPC error: {} {}", reply.status, reply.body))
}

fn calendar_call(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "get_calendar_events",
        "arguments": {"start_date": "2026-03-01", "end_date": "2026-03-07"}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_clear_errors_and_spend_nothing() {
    let world = McpWorld::start_with(&[("MCP_TOOL_CALLS_PER_HOUR", "1")]).await;
    let world = &world;
    within_one_window(Window::Hour, || async move {
        let user = format!("{ALICE}_{}", uuid::Uuid::new_v4().simple());
        let auth = world.bearer(&user);
        let session = open_session(&world, &auth).await;
        let headers = session_headers(&auth, &session);
        world.calendar.clear_requests();

        let malformed = post(&world, &headers, r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "#).await;
        assert!((400..500).contains(&malformed.status), "malformed JSON: {} {}", malformed.status, malformed.body);
        assert!(malformed.body.contains("deserialize"), "the error says why: {}", malformed.body);

        let batch = json!([calendar_call(2), calendar_call(3)]).to_string();
        let batch = post(&world, &headers, batch).await;
        assert!(batch.status >= 400 || !batch.body.contains("\"result\""), "a batch runs nothing: {}", batch.body);
        assert!(batch.status < 500, "a batch is a client error: {} {}", batch.status, batch.body);

        let mut oversized = calendar_call(4);
        oversized["params"]["arguments"]["padding"] = json!("x".repeat(300 * 1024));
        let oversized = post(&world, &headers, oversized.to_string()).await;
        assert_eq!(oversized.status, 413, "an oversized body: {}", oversized.body);

        let unknown_method = post(&world, &headers, request(5, "tools/destroy", json!({}))).await;
        assert_eq!(error_code(&unknown_method), -32601, "an unknown method");

        let unknown_tool = post(&world, &headers, request(6, "tools/call", json!({"name": "drop_tables"}))).await;
        assert_eq!(error_code(&unknown_tool), -32602, "an unknown tool");
        assert_eq!(unknown_tool.message()["error"]["message"], "Unknown tool: drop_tables");

        // Params of the wrong shape: rmcp 3.11 refuses the message before any handler sees it (an
        // HTTP 4xx that says why) where the specification asks for -32602; either way nothing runs.
        let wrong_shape = post(&world, &headers, request(7, "tools/call", json!("get_calendar_events"))).await;
        if wrong_shape.messages.is_empty() {
            assert!((400..500).contains(&wrong_shape.status), "params of the wrong shape: {}", wrong_shape.status);
            assert!(wrong_shape.body.contains("deserialize"), "the error says why: {}", wrong_shape.body);
        } else {
            assert!(
                [-32602, -32600].contains(&error_code(&wrong_shape)),
                "params of the wrong shape: {}",
                wrong_shape.body
            );
        }

        let mut wrong_version = headers;
        wrong_version[2] = ("mcp-protocol-version", "1999-01-01");
        let wrong_version = post(&world, &wrong_version, calendar_call(8).to_string()).await;
        assert_eq!(wrong_version.status, 400, "an unsupported protocol version: {}", wrong_version.body);

        assert!(world.calendar.requests().is_empty(), "no hostile request ran a tool");
        // The hour's one call is still there.
        let good = post(&world, &headers, calendar_call(9).to_string()).await;
        assert_eq!(good.message()["result"]["isError"], false, "{}", good.body);
        assert_eq!(world.calendar.requests().len(), 1);
        let over = post(&world, &headers, calendar_call(10).to_string()).await;
        assert_eq!(over.message()["result"]["structuredContent"]["code"], "rate_limit_exceeded", "{}", over.body);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_2025_06_18_invalid_arguments_are_an_invalid_params_error() {
    let world = McpWorld::start().await;
    let auth = world.bearer(ALICE);
    let session = open_session(&world, &auth).await;
    let call = request(2, "tools/call", json!({"name": "navigate_to_page", "arguments": {"page": "admin"}}));
    let reply = post(&world, &session_headers(&auth, &session), call).await;
    assert_eq!(error_code(&reply), -32602, "{}", reply.body);
    assert_eq!(reply.message()["error"]["data"]["code"], "invalid_arguments");
}
