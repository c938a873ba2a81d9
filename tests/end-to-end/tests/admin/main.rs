//! The admin plane end to end, over real HTTP on both backends: the three service keys each open
//! only their own routes (`ADMIN_API_KEY` the operators' `/admin/*`, `INTERNAL_API_KEY` mapper-api's
//! `/internal/*`, `METRICS_TOKEN` Prometheus' `/metrics`), and every admin action (uploads,
//! reloads, rollbacks, deletes; succeeded, rejected, refused or failed) appears in the audit log
//! exactly once, with who, what, which version and how it ended, and nothing secret; the log reads
//! back newest first, a page at a time, for one plugin or all.

use base64::Engine as _;
use end_to_end::on_both_backends;
use end_to_end::plugins::PluginsDir;
use end_to_end::server::{TestServer, read_json};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::testing::TestDatabase;
use store::{Backend, NewAuditEntry};

const ADMIN_KEY: &str = "admin-suite-admin-key-0000000000000001";
const INTERNAL_KEY: &str = "admin-suite-internal-key-0001";
const METRICS_TOKEN: &str = "admin-suite-metrics-token-0001";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The id the audit log names a key by: `printf %s "$KEY" | sha256sum | cut -c1-12`.
fn key_id(key: &str) -> String {
    sha256(key.as_bytes())[..12].to_string()
}

/// The service over `plugins` with all three keys configured.
async fn service(backend: Backend, plugins: &PluginsDir) -> TestServer {
    let dir = plugins.path().display().to_string();
    let vars = [
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("INTERNAL_API_KEY", INTERNAL_KEY),
        ("METRICS_TOKEN", METRICS_TOKEN),
        ("PLUGINS_DIR", dir.as_str()),
    ];
    let db = TestDatabase::new(backend).await.expect("a test database");
    TestServer::start(&vars, db).await.expect("the service starts")
}

/// A credential and the way it is presented.
#[derive(Clone, Copy, Debug)]
enum Presented {
    Header(&'static str, &'static str),
    Bearer(&'static str),
}

impl Presented {
    fn on(self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Presented::Header(name, key) => request.header(name, key),
            Presented::Bearer(key) => request.bearer_auth(key),
        }
    }
}

async fn status(server: &TestServer, path: &str, presented: Presented) -> StatusCode {
    presented.on(server.client().get(server.url(path))).send().await.expect("a response").status()
}

async fn the_three_keys_each_open_only_their_own_routes(backend: Backend) {
    let plugins = PluginsDir::new();
    let server = service(backend, &plugins).await;
    let (admin, internal, metrics) = ("/admin/plugins", "/internal/embeddings/progress/workouts", "/metrics");
    let every_way = |key: &'static str| {
        [Presented::Header("x-admin-key", key), Presented::Header("x-internal-key", key), Presented::Bearer(key)]
    };
    // Each key opens its routes the ways they take it…
    for (path, presented) in [
        (admin, Presented::Header("x-admin-key", ADMIN_KEY)),
        (admin, Presented::Bearer(ADMIN_KEY)),
        (internal, Presented::Header("x-internal-key", INTERNAL_KEY)),
        (metrics, Presented::Bearer(METRICS_TOKEN)),
    ] {
        assert_eq!(status(&server, path, presented).await, StatusCode::OK, "{path} {presented:?}");
    }
    // …and no other key opens them, however presented.
    for (path, others) in [
        (admin, [INTERNAL_KEY, METRICS_TOKEN]),
        (internal, [ADMIN_KEY, METRICS_TOKEN]),
        (metrics, [ADMIN_KEY, INTERNAL_KEY]),
    ] {
        for presented in others.into_iter().flat_map(every_way) {
            let got = status(&server, path, presented).await;
            assert!(got.is_client_error(), "{backend:?} {path} {presented:?}: {got}");
        }
    }
}

/// One admin request with `key` (none: no credential) and optionally an operator name.
async fn act(
    server: &TestServer,
    method: Method,
    path: &str,
    key: Option<&str>,
    actor: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let mut request = server.client().request(method, server.url(path));
    if let Some(key) = key {
        request = request.header("x-admin-key", key);
    }
    if let Some(actor) = actor {
        request = request.header("x-admin-actor", actor);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("a response");
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let (status, body) = read_json(response).await;
    (status, body, request_id)
}

/// Every entry of the audit log, newest first (one page of up to 500).
async fn audit_log(server: &TestServer, query: &str) -> (StatusCode, Value) {
    let request = server.client().get(server.url(&format!("/admin/audit{query}"))).header("x-admin-key", ADMIN_KEY);
    read_json(request.send().await.expect("a response")).await
}

async fn every_admin_action_is_in_the_audit_log_exactly_once(backend: Backend) {
    let plugins = PluginsDir::new();
    plugins.add("echo");
    let server = service(backend, &plugins).await;
    let probe = PluginsDir::new();
    probe.add("host-probe");
    let (manifest, wasm) = (probe.manifest("host-probe"), probe.wasm("host-probe"));
    let upload = |wasm: &[u8]| json!({"manifest": manifest, "wasm_base64": base64::engine::general_purpose::STANDARD.encode(wasm)});
    let admin = Some(ADMIN_KEY);
    let post = Method::POST;

    // (method, path, key, actor, body) → the status, then the entry expected for it.
    let uploaded = act(&server, post.clone(), "/admin/plugins", admin, Some("alice"), Some(upload(&wasm))).await;
    assert_eq!(uploaded.0, StatusCode::CREATED, "{}", uploaded.1);
    let junk = act(&server, post.clone(), "/admin/plugins", admin, None, Some(upload(b"junk"))).await;
    assert_eq!(junk.0, StatusCode::UNPROCESSABLE_ENTITY);
    let unparsed = act(&server, post.clone(), "/admin/plugins", admin, None, Some(json!({"manifest": "x"}))).await;
    assert_eq!(unparsed.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(act(&server, post.clone(), "/admin/plugins/echo/reload", admin, None, None).await.0, StatusCode::OK);
    assert_eq!(
        act(&server, post.clone(), "/admin/plugins/nope/reload", admin, None, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(act(&server, post.clone(), "/admin/plugins/reload", admin, None, None).await.0, StatusCode::OK);
    assert_eq!(act(&server, post.clone(), "/admin/plugins/echo/rollback", admin, None, None).await.0, StatusCode::OK);
    let no_previous = act(&server, post.clone(), "/admin/plugins/host-probe/rollback", admin, None, None).await;
    assert_eq!(no_previous.0, StatusCode::CONFLICT);
    let internal = act(&server, post.clone(), "/admin/plugins/echo/rollback", Some(INTERNAL_KEY), None, None).await;
    assert_eq!(internal.0, StatusCode::FORBIDDEN);
    let keyless = act(&server, Method::DELETE, "/admin/plugins/echo", None, None, None).await;
    assert_eq!(keyless.0, StatusCode::UNAUTHORIZED);
    let deleted = act(&server, Method::DELETE, "/admin/plugins/host-probe", admin, Some("bob"), None).await;
    assert_eq!(deleted.0, StatusCode::OK, "{}", deleted.1);
    assert_eq!(
        act(&server, Method::DELETE, "/admin/plugins/host-probe", admin, None, None).await.0,
        StatusCode::NOT_FOUND
    );
    // Reading is not acting: neither the listing nor the log itself is recorded.
    assert_eq!(act(&server, Method::GET, "/admin/plugins", admin, None, None).await.0, StatusCode::OK);
    assert_eq!(audit_log(&server, "").await.0, StatusCode::OK);

    let (status, log) = audit_log(&server, "?limit=500").await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let mut entries = log["entries"].as_array().unwrap().clone();
    entries.reverse();
    let seen: Vec<(&str, Option<&str>, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["plugin"].as_str(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("upload", Some("host-probe"), "succeeded"),
            ("upload", Some("host-probe"), "rejected"),
            ("upload", None, "rejected"),
            ("reload", Some("echo"), "succeeded"),
            ("reload", Some("nope"), "not_found"),
            ("reload", None, "succeeded"),
            ("rollback", Some("echo"), "succeeded"),
            ("rollback", Some("host-probe"), "conflict"),
            ("rollback", Some("echo"), "refused"),
            ("delete", Some("echo"), "refused"),
            ("delete", Some("host-probe"), "succeeded"),
            ("delete", Some("host-probe"), "not_found"),
        ],
        "{backend:?}"
    );
    assert_eq!(log["next_before"], Value::Null, "one page holds them all");

    // Who: the key's id (never the key), and the operator name as claimed.
    let admin_id = key_id(ADMIN_KEY);
    let (first, rejected, unparsed_entry) = (&entries[0], &entries[1], &entries[2]);
    assert_eq!((first["key_id"].as_str(), first["actor"].as_str()), (Some(admin_id.as_str()), Some("alice")));
    assert_eq!(entries[10]["actor"], "bob");
    assert_eq!(entries[8]["key_id"], key_id(INTERNAL_KEY), "a refused key is named by its id");
    assert_eq!(entries[9]["key_id"], Value::Null, "no key presented");
    // What, on which version: the upload's version and component hash, refused uploads included.
    assert_eq!((first["version"].as_str(), first["sha256"].as_str()), (Some("0.1.0"), Some(sha256(&wasm).as_str())));
    assert_eq!(rejected["sha256"], sha256(b"junk"));
    assert!(rejected["detail"].as_str().unwrap().starts_with("body.compile: "), "{rejected}");
    assert_eq!(unparsed_entry["detail"], "body.wasm_base64: Field required");
    assert_eq!(entries[10]["sha256"], sha256(&wasm), "the deleted version");
    assert_eq!(entries[8]["detail"], "Invalid admin API key");
    // When, and which request.
    assert_eq!(first["request_id"], uploaded.2);
    assert_eq!(entries[10]["request_id"], deleted.2);
    let at = |entry: &Value| chrono::DateTime::parse_from_rfc3339(entry["at"].as_str().unwrap()).unwrap();
    for pair in entries.windows(2) {
        assert!(pair[0]["id"].as_i64() < pair[1]["id"].as_i64() && at(&pair[0]) <= at(&pair[1]), "{pair:?}");
    }
    let text = log.to_string();
    for secret in [ADMIN_KEY, INTERNAL_KEY, METRICS_TOKEN] {
        assert!(!text.contains(secret), "{backend:?}: a key in the audit log");
    }
}

async fn the_audit_log_reads_newest_first_a_page_at_a_time_and_by_plugin(backend: Backend) {
    let plugins = PluginsDir::new();
    let server = service(backend, &plugins).await;
    for n in 0..7 {
        let plugin = if n % 2 == 0 { "even" } else { "odd" };
        let detail = format!("entry {n}");
        let entry = NewAuditEntry {
            action: "reload",
            outcome: "succeeded",
            plugin: Some(plugin),
            detail: Some(&detail),
            ..NewAuditEntry::default()
        };
        server.store().audit_record(&entry).await.unwrap();
    }
    let details = |page: &Value| -> Vec<String> {
        page["entries"].as_array().unwrap().iter().map(|e| e["detail"].as_str().unwrap().to_string()).collect()
    };
    let (status, page) = audit_log(&server, "?limit=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(details(&page), ["entry 6", "entry 5", "entry 4"], "{backend:?}");
    let (_, page) = audit_log(&server, &format!("?limit=3&before={}", page["next_before"])).await;
    assert_eq!(details(&page), ["entry 3", "entry 2", "entry 1"]);
    let (_, page) = audit_log(&server, &format!("?limit=3&before={}", page["next_before"])).await;
    assert_eq!(details(&page), ["entry 0"]);
    assert_eq!(page["next_before"], Value::Null);

    let (_, odd) = audit_log(&server, "?plugin=odd").await;
    assert_eq!(details(&odd), ["entry 5", "entry 3", "entry 1"]);
    let (_, none) = audit_log(&server, "?plugin=never").await;
    assert_eq!(details(&none), Vec::<String>::new());

    for bad in ["?limit=0", "?limit=501", "?limit=x", "?before=x", "?surprise=1"] {
        let (status, body) = audit_log(&server, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let keyless = server.client().get(server.url("/admin/audit")).bearer_auth(METRICS_TOKEN).send().await.unwrap();
    assert_eq!(keyless.status(), StatusCode::FORBIDDEN);
}

on_both_backends!(
    the_three_keys_each_open_only_their_own_routes,
    every_admin_action_is_in_the_audit_log_exactly_once,
    the_audit_log_reads_newest_first_a_page_at_a_time_and_by_plugin,
);
