//! The admin API's plugin operations as the suites drive them (upload, listing, the echo plugin as a
//! versioned test subject), shared by the plugin_sync and signing suites.

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tools::{Caller, ToolCall};

use crate::plugins::built_plugin;
use crate::server::TestServer;

/// The echo plugin's manifest with another version and label (the label is what `echo` answers).
pub fn echo_manifest(version: &str, label: &str) -> String {
    let built = std::fs::read_to_string(built_plugin("echo").join("plugin.toml")).expect("the echo manifest");
    built
        .lines()
        .map(|line| match line.split_whitespace().next() {
            Some("version") => format!("version = \"{version}\""),
            Some("label") => format!("label = \"{label}\""),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The echo plugin's component as `make plugins` built it.
pub fn echo_wasm() -> Vec<u8> {
    std::fs::read(built_plugin("echo").join("plugin.wasm")).expect("the echo component")
}

/// Lower-case hex sha256.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One admin request with `admin_key`: its status and JSON body (null when not JSON).
pub async fn admin(
    server: &TestServer,
    admin_key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = server.client().request(method, server.url(path)).header("x-admin-key", admin_key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("an admin request");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// Uploads a plugin version (with its `plugin.sig`, if given).
pub async fn upload(
    server: &TestServer,
    admin_key: &str,
    manifest: &str,
    wasm: &[u8],
    signature: Option<&str>,
) -> (u16, Value) {
    let mut body = json!({"manifest": manifest, "wasm_base64": base64::engine::general_purpose::STANDARD.encode(wasm)});
    if let Some(signature) = signature {
        body["signature"] = json!(signature);
    }
    admin(server, admin_key, reqwest::Method::POST, "/admin/plugins", Some(body)).await
}

/// What `echo` answers on `server` (its label), or `None` when it does not serve `echo`.
pub async fn echo_label(server: &TestServer) -> Option<String> {
    let call = ToolCall {
        function: "echo".to_string(),
        arguments: json!({"text": "hi"}),
        caller: Caller { user_id: "user-plugin-admin".to_string(), request_id: "r".to_string(), ..Caller::default() },
    };
    let result = server.state.tools.call(call).await.result.ok()?;
    let result: Value = serde_json::from_str(&result).ok()?;
    result["label"].as_str().map(str::to_string)
}

/// The `echo` entry of the admin listing.
pub async fn listed_echo(server: &TestServer, admin_key: &str) -> Value {
    let (status, listing) = admin(server, admin_key, reqwest::Method::GET, "/admin/plugins", None).await;
    assert_eq!(status, 200, "{listing}");
    listing["plugins"].as_array().unwrap().iter().find(|p| p["name"] == "echo").cloned().unwrap_or(Value::Null)
}
