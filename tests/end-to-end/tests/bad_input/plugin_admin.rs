//! Bad input at the plugin admin API (no user data behind it: SQLite only): uploads that do not load
//! are refused naming the stage, uploads over the size caps (or whose body lies about its size, or
//! never ends) are refused before they are decoded, and nothing is written; reloads, rollbacks and deletes of unknown
//! or hostile names are 404, and delete nothing.

use std::time::Duration;

use base64::Engine as _;
use end_to_end::plugins::PluginsDir;
use end_to_end::raw_request::{self, RawBody};
use end_to_end::server::read_json;
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::Backend;

use super::*;

/// The service over a plugins directory holding the `echo` plugin.
async fn admin_service(plugins: &PluginsDir) -> Service {
    let dir = plugins.path().display().to_string();
    Service::start(Backend::Sqlite, &[("PLUGINS_DIR", dir.as_str())]).await
}

/// The plugin directories in the plugins directory (hidden ones, like the compile cache, left out).
fn entries(plugins: &PluginsDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(plugins.path())
        .expect("plugins dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_uploads_that_do_not_load_are_refused_and_nothing_is_written() {
    let plugins = PluginsDir::new();
    plugins.add("echo");
    let s = &admin_service(&plugins).await;
    let upload = |body: Value| async move { s.keyed_post("/admin/plugins", Some(JSON), body.to_string()).await };
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let probe = PluginsDir::new();
    probe.add("host-probe");
    let (manifest, wasm) = (probe.manifest("host-probe"), probe.wasm("host-probe"));

    // Missing, mistyped and unknown parts.
    upload(json!({})).await.invalid("nothing", &["body", "manifest"], "missing");
    upload(json!({"manifest": manifest})).await.invalid("no wasm", &["body", "wasm_base64"], "missing");
    upload(json!({"wasm_base64": b64(&wasm)})).await.invalid("no manifest", &["body", "manifest"], "missing");
    upload(json!({"manifest": 1, "wasm_base64": b64(&wasm)})).await.invalid(
        "number",
        &["body", "manifest"],
        "value_error",
    );
    let unknown = upload(json!({"manifest": manifest, "wasm_base64": b64(&wasm), "sig": "x"})).await;
    assert!(unknown.invalid("extra part", &["body", "sig"], "value_error").contains("unknown field `sig`"));
    upload(json!({"manifest": manifest, "wasm_base64": "%%%"})).await.invalid(
        "not base64",
        &["body", "wasm_base64"],
        "value_error",
    );
    let other_types = s.keyed_post("/admin/plugins", Some("multipart/form-data; boundary=x"), "--x--").await;
    other_types.plain("multipart", StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Parts that do not make a plugin: each names the stage that refused it.
    let rejected = |case: &'static str, manifest: String, wasm: Vec<u8>, stage: &'static str| {
        let body = json!({"manifest": manifest, "wasm_base64": b64(&wasm)});
        async move { upload(body).await.invalid(case, &["body", stage], "plugin_rejected") }
    };
    rejected("empty wasm", manifest.clone(), Vec::new(), "compile").await;
    rejected("truncated wasm", manifest.clone(), wasm[..wasm.len() / 2].to_vec(), "compile").await;
    rejected("a core module", manifest.clone(), b"\0asm\x01\0\0\0".to_vec(), "compile").await;
    let surprise =
        rejected("unknown manifest key", format!("{manifest}\nsurprise = true\n"), wasm.clone(), "manifest").await;
    assert!(surprise.contains("surprise"), "{surprise}");
    rejected("manifest not TOML", "name = ".to_string(), wasm.clone(), "manifest").await;
    let escape = manifest.replacen("name = \"host-probe\"", "name = \"../../escape\"", 1);
    assert_ne!(escape, manifest);
    rejected("a path for a name", escape, wasm.clone(), "manifest").await;

    // Beyond the upload limit, sent without a length (one that declares it is refused from its
    // head): refused while reading.
    let huge = padded_body(host::api::admin::MAX_UPLOAD_BYTES + 1);
    let no_length = reqwest::Body::wrap_stream(futures::stream::once(async { Ok::<_, std::io::Error>(huge) }));
    s.keyed_post("/admin/plugins", Some(JSON), no_length).await.plain("huge", StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(entries(&plugins), ["echo"], "no rejected upload was written");
    let listing = s.keyed(reqwest::Method::GET, "/admin/plugins").send().await.unwrap();
    assert_eq!(read_json(listing).await.1["functions"], 2, "the served tool set is unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_rollbacks_and_deletes_of_unknown_or_hostile_names_are_404() {
    let plugins = PluginsDir::new();
    plugins.add("echo");
    let s = admin_service(&plugins).await;
    let long = "a".repeat(300);
    for name in ["nope", "ECHO", "echo%20", "..", "%2e%2e", "..%2F..%2Fetc", "echo%00", "%E2%80%AE", long.as_str()] {
        for action in ["reload", "rollback"] {
            let refusal = s.keyed_post(&format!("/admin/plugins/{name}/{action}"), None, "").await;
            let detail = refusal.plain(&format!("{action} {name}"), StatusCode::NOT_FOUND);
            assert!(detail.starts_with("no plugin named ") || detail == "Not Found", "{action} {name}: {detail}");
        }
        let refusal = Refusal::of(s.keyed(reqwest::Method::DELETE, &format!("/admin/plugins/{name}"))).await;
        // `/admin/plugins/..` (or `%2e%2e`) is normalised by the client to `/admin/`, the operator console's page:
        // a DELETE there is 405 (nothing is deleted either way).
        let expected =
            if ["..", "%2e%2e"].contains(&name) { StatusCode::METHOD_NOT_ALLOWED } else { StatusCode::NOT_FOUND };
        let detail = refusal.plain(&format!("delete {name}"), expected);
        if expected == StatusCode::METHOD_NOT_ALLOWED {
            continue;
        }
        assert!(detail.starts_with("no plugin named ") || detail == "Not Found", "delete {name}: {detail}");
    }
    for action in ["reload", "rollback"] {
        let not_utf8 = s.keyed_post(&format!("/admin/plugins/%FF%FE/{action}"), None, "").await;
        not_utf8.invalid(action, &["path"], "value_error");
    }
    let not_utf8 = Refusal::of(s.keyed(reqwest::Method::DELETE, "/admin/plugins/%FF%FE")).await;
    not_utf8.invalid("delete", &["path"], "value_error");
    let detail = s.keyed_post("/admin/plugins/echo/rollback", None, "").await.plain("rollback", StatusCode::CONFLICT);
    assert_eq!(detail, "plugin echo has no previous version to roll back to");
    assert_eq!(entries(&plugins), ["echo"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_caps_are_413_before_they_are_decoded_and_nothing_is_stored() {
    let plugins = PluginsDir::new();
    plugins.add("echo");
    let s = &admin_service(&plugins).await;
    let upload = |body: String| async move { s.keyed_post("/admin/plugins", Some(JSON), body).await };
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let probe = PluginsDir::new();
    probe.add("host-probe");
    let (manifest, wasm) = (probe.manifest("host-probe"), probe.wasm("host-probe"));

    // A manifest one byte over its cap (the same as the directory loader's), with a valid component.
    let mut long_manifest = format!("{manifest}\n#");
    long_manifest.push_str(&"x".repeat(tools::MAX_MANIFEST_BYTES + 1 - long_manifest.len()));
    let body = json!({"manifest": long_manifest, "wasm_base64": b64(&wasm)}).to_string();
    let detail = upload(body).await.plain("manifest", StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(detail, format!("plugin.toml is larger than {} bytes", tools::MAX_MANIFEST_BYTES));

    // A component one byte over its cap: refused from the length of its base64, undecoded.
    let huge_wasm = "A".repeat((tools::MAX_WASM_BYTES + 1).div_ceil(3) * 4);
    let body = json!({"manifest": manifest, "wasm_base64": huge_wasm}).to_string();
    assert!(body.len() <= host::api::admin::MAX_UPLOAD_BYTES, "the body itself is within the read limit");
    let detail = upload(body).await.plain("component", StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(detail, format!("plugin.wasm is larger than {} bytes", tools::MAX_WASM_BYTES));

    // Garbage bytes of a plausible size: a clear 422 naming the compile stage.
    let garbage: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let body = json!({"manifest": manifest, "wasm_base64": b64(&garbage)}).to_string();
    let message = upload(body).await.invalid("garbage", &["body", "compile"], "plugin_rejected");
    assert!(message.contains("magic header") || message.contains("WebAssembly"), "{message}");

    let addr = s.server.addr;
    let within = Duration::from_secs(60);
    let keyed = |length: Option<usize>| {
        let mut headers = vec![format!("X-Admin-Key: {ADMIN_KEY}"), format!("Content-Type: {JSON}")];
        headers.extend(length.map(|length| format!("Content-Length: {length}")));
        headers
    };
    // A body that claims more than the cap: refused from its head, before a byte of it is sent.
    let claimed = keyed(Some(host::api::admin::MAX_UPLOAD_BYTES + 1));
    let answer = raw_request::send(addr, "/admin/plugins", &claimed, RawBody::Bytes(Vec::new()), within).await;
    assert_eq!(answer.status, 413, "{}", answer.text);
    // A body that claims less than it holds: only what it claims is read, which is not the JSON.
    let body = json!({"manifest": manifest, "wasm_base64": b64(&wasm)}).to_string().into_bytes();
    let answer = raw_request::send(addr, "/admin/plugins", &keyed(Some(20)), RawBody::Bytes(body), within).await;
    assert_eq!(answer.status, 422, "{}", answer.text);
    assert!(answer.text.contains("json_invalid"), "{}", answer.text);
    // A body that never ends: cut at the read limit, and the connection closed.
    let chunk = vec![b' '; 1 << 20];
    let answer = raw_request::send(addr, "/admin/plugins", &keyed(None), RawBody::Endless { chunk }, within).await;
    assert_eq!(answer.status, 413, "{}", answer.text);
    let socket_buffers = 64 << 20;
    assert!(
        answer.body_written <= (host::api::admin::MAX_UPLOAD_BYTES + socket_buffers) as u64,
        "the service stopped reading at its limit, not {} bytes later",
        answer.body_written
    );

    assert_eq!(entries(&plugins), ["echo"], "nothing oversized was written");
    let stored = s.server.store().plugin_active_set().await.expect("active set");
    assert!(stored.is_empty(), "nothing was stored: {stored:?}");
    let listing = s.keyed(reqwest::Method::GET, "/admin/plugins").send().await.unwrap();
    assert_eq!(read_json(listing).await.1["functions"], 2, "the served tool set is unchanged");
}
