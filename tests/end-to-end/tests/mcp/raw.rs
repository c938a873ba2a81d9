//! JSON-RPC over plain HTTP, for what no well-behaved client sends: a session opened with
//! `initialize` at 2025-06-18 by hand, then requests of any shape on it.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::McpWorld;

/// What `/mcp` answered: the status, the headers, and the JSON-RPC messages of the body (a JSON
/// body, or the `data:` lines of an event stream).
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub messages: Vec<Value>,
    pub body: String,
}

impl Reply {
    /// The only message (the response to the request).
    pub fn message(&self) -> &Value {
        assert_eq!(self.messages.len(), 1, "one message: {} {}", self.status, self.body);
        &self.messages[0]
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One POST of `body` to `/mcp` with `headers` (name, value).
pub async fn post(world: &McpWorld, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> Reply {
    let mut request = world
        .server
        .client()
        .post(world.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body).send().await.expect("a POST to /mcp");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    let messages = if headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream")) {
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter(|data| !data.trim().is_empty())
            .filter_map(|data| serde_json::from_str(data.trim()).ok())
            .collect()
    } else {
        serde_json::from_str(&body).into_iter().collect()
    };
    Reply { status, headers, messages, body }
}

/// A session opened by `authorization` at 2025-06-18: its `Mcp-Session-Id`.
pub async fn open_session(world: &McpWorld, authorization: &str) -> String {
    let reply = post(world, &[("authorization", authorization)], initialize()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.message()["result"]["protocolVersion"], "2025-06-18");
    let session = reply.header("mcp-session-id").expect("a session id").to_string();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let reply = post(world, &session_headers(authorization, &session), initialized.to_string()).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    session
}

/// An `initialize` request at 2025-06-18.
pub fn initialize() -> String {
    request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}),
    )
}

/// The headers of a request on `session` as `authorization`.
pub fn session_headers<'a>(authorization: &'a str, session: &'a str) -> [(&'static str, &'a str); 3] {
    [("authorization", authorization), ("mcp-session-id", session), ("mcp-protocol-version", "2025-06-18")]
}

/// A JSON-RPC request.
pub fn request(id: u64, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}
