//! What happens while clients are connected: `notifications/tools/list_changed` after an upload
//! through the admin API, progress reports during a long call, and `notifications/cancelled`
//! (on the stateless revision: the client closing its request) dropping a running call. The slow
//! call is a calendar request held by a gated stand-in, with budgets far longer than the suite's
//! patience, so only a cancellation can end it in time.

use end_to_end::plugin_admin::{echo_manifest, echo_wasm, upload};
use end_to_end::poll::poll_until;
use serde_json::{Value, json};
use stand_ins::recording_server::RecordingServer;

use super::clients::Conversation;
use super::{ADMIN_KEY, ALICE, MODES, McpWorld, PATIENCE};

/// A call of the calendar tool, which waits for the calendar service.
fn calendar_call() -> Value {
    json!({"name": "get_calendar_events", "arguments": {"start_date": "2026-03-01", "end_date": "2026-03-07"}})
}

/// Budgets no test waits out: a call ends early only if it is cancelled (or its service answers).
const LONG_BUDGETS: [(&str, &str); 2] = [("FUNCTION_TIMEOUT_SECONDS", "600"), ("TOOL_HTTP_TIMEOUT_SECONDS", "600")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_told_to_listening_clients_as_list_changed() {
    let world = McpWorld::start().await;
    for (i, mode) in MODES.into_iter().enumerate() {
        let mut client = Conversation::start("changes", &world.mcp_url(), mode, &world.bearer(ALICE), Value::Null);
        assert_eq!(client.next().await["ready"], "listening", "{mode}");
        // The echo plugin's default origin (localhost:8001) is granted only as the mapper's default
        // URL; here the mapper is a stand-in, so echo goes to the stand-in's granted origin.
        let manifest = echo_manifest(&format!("0.9.{i}"), mode).replace("http://localhost:8001", &world.mapper.url());
        let (status, report) = upload(&world.server, ADMIN_KEY, &manifest, &echo_wasm(), None).await;
        assert_eq!(status, 201, "{report}");
        let told = client.next().await;
        assert_eq!(told["list_changed"], true, "{mode}: {told}");
        let tools = told["tools"].as_array().unwrap();
        assert!(tools.iter().any(|t| t == "echo"), "{mode}: the new tool is listed: {told}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_is_dropped_with_its_request() {
    let (calendar, _gate) = RecordingServer::gated(json!({"events": []})).await;
    let calendar_url = calendar.url();
    let mut vars = vec![("CALENDAR_API_URL", calendar_url.as_str())];
    vars.extend(LONG_BUDGETS);
    let world = McpWorld::start_with(&vars).await;
    let tools = world.server.state.tools.clone();
    for mode in MODES {
        let before = calendar.request_count();
        let mut client = Conversation::start("cancel", &world.mcp_url(), mode, &world.bearer(ALICE), calendar_call());
        assert_eq!(client.next().await["ready"], "calling");
        poll_until(PATIENCE, "the call reached the calendar", async || {
            if calendar.request_count() > before { Ok(()) } else { Err("no request".to_string()) }
        })
        .await;
        assert_eq!(tools.egress_requests_in_flight(), 1, "the call waits for the calendar");
        client.proceed().await;
        assert_eq!(client.next().await, json!({"cancelled": true}), "{mode}");
        // The call's sandbox and its request to the calendar are gone, long before any budget ends.
        poll_until(PATIENCE, format!("{mode}: the cancelled call was dropped"), async || {
            match tools.egress_requests_in_flight() {
                0 => Ok(()),
                n => Err(format!("{n} requests in flight")),
            }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_call_reports_progress_to_a_client_that_asked() {
    let (calendar, gate) = RecordingServer::gated(json!({"events": []})).await;
    let calendar_url = calendar.url();
    let mut vars = vec![("CALENDAR_API_URL", calendar_url.as_str()), ("MCP_PROGRESS_SECONDS", "0.05")];
    vars.extend(LONG_BUDGETS);
    let world = McpWorld::start_with(&vars).await;
    // The gate stays open once opened: the stateless revision's call first, held until it reported.
    let mut client = Conversation::start("progress", &world.mcp_url(), MODES[0], &world.bearer(ALICE), calendar_call());
    let first = client.next().await;
    assert_eq!(first["progress"], 1.0, "{first}");
    assert!(first["message"].as_str().unwrap().starts_with("running for"), "{first}");
    gate.open();
    let result = loop {
        let line = client.next().await;
        if line.get("progress").is_none() {
            break line;
        }
    };
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["text"], "No workouts scheduled between 2026-03-01 and 2026-03-07.");
}
