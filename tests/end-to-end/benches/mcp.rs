//! The figures of the MCP server (issue #13), over the real service on loopback with the real
//! `navigation` plugin (`navigate_to_page` calls no service: a trivial tool) on SQLite:
//! - the overhead of `/mcp` `tools/call` (the stateless 2026-07-28 revision: one HTTP exchange,
//!   authentication, the hourly counter, the SSE answer) over a direct `Registry::call`, p50/p99;
//! - calls per second with 64 concurrent MCP clients (64 users, each its own connection);
//! - the time from an admin upload to a listening session receiving `notifications/tools/list_changed`.
//!
//! `cargo bench -p end-to-end --bench mcp` (after `make plugins`).

use std::time::{Duration, Instant};

use end_to_end::plugin_admin::{echo_manifest, echo_wasm, upload};
use end_to_end::plugins::PluginsDir;
use end_to_end::server::TestServer;
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;
use stand_ins::clerk::mint_mobile;
use store::testing::TestDatabase;
use tools::{Caller, ToolCall};

const CALLS: usize = 2000;
const WARMUP: usize = 100;
const CLIENTS: usize = 64;
const CALLS_PER_CLIENT: usize = 50;
const UPLOADS: usize = 10;
const ADMIN_KEY: &str = "admin-key-of-the-mcp-bench-0123456789";

fn bearer(user: &str) -> String {
    format!("Bearer {}", mint_mobile(host::config::DEFAULT_JWT_SECRET, user, json!({})))
}

/// A stateless `tools/call` of `navigate_to_page` at 2026-07-28.
fn stateless_call(id: usize) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
    "name": "navigate_to_page", "arguments": {"page": "calendar"},
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"}
    }}})
    .to_string()
}

async fn mcp_call(client: &reqwest::Client, url: &str, authorization: &str, id: usize) {
    let response = client
        .post(url)
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "navigate_to_page")
        .body(stateless_call(id))
        .send()
        .await
        .expect("an MCP request");
    let status = response.status();
    let body = response.text().await.expect("the answer");
    assert!(status.is_success() && body.contains(r#"\"action\": \"navigate\""#), "{status}: {body}");
}

fn report(what: &str, h: &Histogram<u64>) {
    let ms = |v: u64| v as f64 / 1000.0;
    println!(
        "{what:<34} p50={:>7.3} ms  p99={:>7.3} ms  max={:>7.3} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let plugins = PluginsDir::new();
        plugins.add("navigation");
        let plugins_dir = plugins.path().to_string_lossy().into_owned();
        let db = TestDatabase::sqlite().await.expect("database");
        let server = TestServer::start(
            &[
                ("PLUGINS_DIR", plugins_dir.as_str()),
                ("ADMIN_API_KEY", ADMIN_KEY),
                ("LOG_JSON", "false"),
                ("MCP_TOOL_CALLS_PER_HOUR", "0"),
            ],
            db,
        )
        .await
        .expect("the service starts");
        let url = server.url("/mcp");
        let client = reqwest::Client::new();
        let registry = server.state.tools.clone();

        println!(
            "MCP server figures: navigate_to_page (navigation plugin), SQLite, loopback, {CALLS} sequential calls"
        );
        let mut direct = Histogram::<u64>::new(3).expect("histogram");
        for i in 0..CALLS + WARMUP {
            let call = ToolCall {
                function: "navigate_to_page".to_string(),
                arguments: json!({"page": "calendar"}),
                caller: Caller {
                    user_id: "bench-user".to_string(),
                    request_id: "bench".to_string(),
                    ..Caller::default()
                },
            };
            let start = Instant::now();
            let outcome = registry.call(call).await;
            let elapsed = start.elapsed();
            assert!(!outcome.is_error(), "{outcome:?}");
            if i >= WARMUP {
                direct.record(elapsed.as_micros().max(1) as u64).expect("record");
            }
        }
        report("direct Registry::call", &direct);

        let alice = bearer("bench-user");
        let mut over_mcp = Histogram::<u64>::new(3).expect("histogram");
        for i in 0..CALLS + WARMUP {
            let start = Instant::now();
            mcp_call(&client, &url, &alice, i).await;
            if i >= WARMUP {
                over_mcp.record(start.elapsed().as_micros().max(1) as u64).expect("record");
            }
        }
        report("/mcp tools/call (2026-07-28)", &over_mcp);
        let overhead = |q: f64| (over_mcp.value_at_quantile(q) as f64 - direct.value_at_quantile(q) as f64) / 1000.0;
        println!("{:<34} p50={:>7.3} ms  p99={:>7.3} ms", "overhead of /mcp", overhead(0.5), overhead(0.99));

        let started = Instant::now();
        let clients = (0..CLIENTS).map(|c| {
            let (url, authorization) = (url.clone(), bearer(&format!("bench-user-{c}")));
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for i in 0..CALLS_PER_CLIENT {
                    mcp_call(&client, &url, &authorization, i).await;
                }
            })
        });
        for client in futures::future::join_all(clients).await {
            client.expect("a client");
        }
        let elapsed = started.elapsed();
        let total = CLIENTS * CALLS_PER_CLIENT;
        println!(
            "{CLIENTS} concurrent MCP clients: {total} calls in {:.2} s = {:.0} calls/s",
            elapsed.as_secs_f64(),
            total as f64 / elapsed.as_secs_f64()
        );

        let mut notified = Histogram::<u64>::new(3).expect("histogram");
        let session = open_session(&client, &url, &alice).await;
        let mut stream = notifications(&client, &url, &alice, &session).await;
        for i in 0..UPLOADS {
            let manifest = echo_manifest(&format!("0.1.{i}"), "bench");
            let start = Instant::now();
            let (status, report) = upload(&server, ADMIN_KEY, &manifest, &echo_wasm(), None).await;
            assert_eq!(status, 201, "{report}");
            tokio::time::timeout(Duration::from_secs(30), wait_for_list_changed(&mut stream))
                .await
                .expect("list_changed within 30 s");
            notified.record(start.elapsed().as_micros().max(1) as u64).expect("record");
        }
        report("upload → list_changed received", &notified);
        println!("(the upload's own time, compile and describe of the plugin, is included)");
        drop(server);
    });
}

/// Opens a 2025-11-25 session (the revision with a notification stream): its `Mcp-Session-Id`.
async fn open_session(client: &reqwest::Client, url: &str, authorization: &str) -> String {
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}});
    let response = client
        .post(url)
        .header("authorization", authorization)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .expect("initialize");
    let session = response.headers()["mcp-session-id"].to_str().expect("session id").to_string();
    let _ = response.text().await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    client
        .post(url)
        .header("authorization", authorization)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&initialized)
        .send()
        .await
        .expect("initialized");
    session
}

type Chunks = std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// The session's GET stream of notifications.
async fn notifications(client: &reqwest::Client, url: &str, authorization: &str, session: &str) -> Chunks {
    let response = client
        .get(url)
        .header("authorization", authorization)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .expect("the notification stream");
    assert!(response.status().is_success(), "{}", response.status());
    Box::pin(response.bytes_stream())
}

/// Reads the stream until a `list_changed` notification arrived.
async fn wait_for_list_changed(stream: &mut Chunks) {
    let mut seen = String::new();
    while let Some(chunk) = stream.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("the stream")));
        if seen.contains("notifications/tools/list_changed") {
            return;
        }
    }
    panic!("the notification stream ended");
}
