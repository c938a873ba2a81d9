//! The service's side: `/health/ready` waits for the tool set, and the plugin admin API (behind
//! `ADMIN_API_KEY`, which no other key opens) lists, reloads, rolls back, accepts uploads and
//! removes plugins, over real HTTP; a slow load (a `describe` that never returns) holds up neither
//! the API nor other plugins, and one plugin loads once at a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use end_to_end::plugins::PluginsDir;
use end_to_end::poll::poll_until;
use host::app::App;
use host::config::Config;
use serde_json::{Value, json};
use store::testing::TestDatabase;

const KEY: &str = "test-admin-key";
const INTERNAL_KEY: &str = "test-internal-key";
const METRICS_TOKEN: &str = "test-metrics-token";

/// The service over a plugins directory (SQLite), with the admin key and a metrics token.
pub(crate) struct Service {
    url: String,
    http: reqwest::Client,
    pub(crate) tools: Arc<tools::Registry>,
    _server: tokio::task::JoinHandle<()>,
    _db: TestDatabase,
    _process: tokio::sync::RwLockReadGuard<'static, ()>,
}

impl Service {
    pub(crate) async fn start(dir: &PluginsDir) -> Service {
        let process = crate::support::shared_process().await;
        let db = TestDatabase::sqlite().await.unwrap();
        let vars: HashMap<String, String> = [
            ("PLUGINS_DIR", dir.path().display().to_string()),
            ("PLUGINS_WATCH", "false".to_string()),
            ("ADMIN_API_KEY", KEY.to_string()),
            ("INTERNAL_API_KEY", INTERNAL_KEY.to_string()),
            ("METRICS_TOKEN", METRICS_TOKEN.to_string()),
            ("DATABASE_URL", db.url.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let config = Config::from_lookup(&|name| vars.get(name).cloned()).unwrap();
        let app = App::with_store(Arc::new(config), db.store.clone()).await.unwrap();
        let tools = app.state.tools.clone();
        let listener = App::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = app.serve(listener).await;
        });
        Service { url, http: reqwest::Client::new(), tools, _server: server, _db: db, _process: process }
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.url)).header("x-admin-key", KEY).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.url)).json(&body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.http.delete(format!("{}{path}", self.url))).await
    }

    /// `request` with the admin key.
    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.header("x-admin-key", KEY).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// The text of `GET /metrics`.
    pub(crate) async fn metrics(&self) -> String {
        let response = self.http.get(format!("{}/metrics", self.url)).bearer_auth(METRICS_TOKEN).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Waits until the initial tool set has loaded (in the background, after start-up).
    pub(crate) async fn wait_ready(&self) {
        tokio::time::timeout(Duration::from_secs(60), self.tools.wait_ready())
            .await
            .expect("the tool set loads within a minute");
    }
}

#[tokio::test]
async fn readiness_reports_the_tool_set_once_loaded() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let service = Service::start(&dir).await;
    service.wait_ready().await;
    let ready = service.http.get(format!("{}/health/ready", service.url)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["tools"], "ok");
}

#[tokio::test]
async fn the_admin_api_opens_to_the_admin_key_only() {
    let dir = PluginsDir::new();
    let service = Service::start(&dir).await;
    let url = format!("{}/admin/plugins", service.url);
    let missing = service.http.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["detail"], "Missing admin API key: send it as X-Admin-Key or Authorization: Bearer");
    // Every other credential of the service is refused, in either header.
    for other in ["nope", INTERNAL_KEY, METRICS_TOKEN] {
        for request in [
            service.http.get(&url).header("x-admin-key", other),
            service.http.get(&url).bearer_auth(other),
            service.http.post(format!("{url}/reload")).bearer_auth(other),
            service.http.delete(format!("{url}/echo")).header("x-admin-key", other),
        ] {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 403, "{other}");
            assert_eq!(response.json::<Value>().await.unwrap()["detail"], "Invalid admin API key");
        }
    }
    // The internal key in its own header opens nothing here either.
    let internal = service.http.get(&url).header("x-internal-key", INTERNAL_KEY).send().await.unwrap();
    assert_eq!(internal.status(), 401);
    assert_eq!(service.http.get(&url).bearer_auth(KEY).send().await.unwrap().status(), 200);
    assert_eq!(service.get("/admin/plugins").await.0, 200);
}

#[tokio::test]
async fn operators_list_reload_roll_back_and_upload_plugins() {
    let dir = PluginsDir::new();
    dir.add("echo");
    dir.add("wrong-world");
    let service = Service::start(&dir).await;
    service.wait_ready().await;

    let (status, listing) = service.get("/admin/plugins").await;
    assert_eq!(status, 200);
    assert_eq!(listing["functions"], 2);
    let plugins = listing["plugins"].as_array().unwrap();
    let echo = plugins.iter().find(|p| p["name"] == "echo").unwrap();
    assert_eq!(echo["status"], "loaded");
    assert_eq!(echo["version"], "0.1.0");
    assert_eq!(echo["functions"], json!(["echo", "echo_http"]));
    assert_eq!(echo["limits"]["max_concurrent_calls"], 128);
    assert_eq!(echo["stats"]["calls"], 0);
    let wrong = plugins.iter().find(|p| p["name"] == "wrong-world").unwrap();
    assert_eq!(wrong["status"], "rejected");
    assert_eq!(wrong["last_rejection"]["error"]["stage"], "link");

    let (status, report) = service.post("/admin/plugins/echo/reload", json!({})).await;
    assert_eq!((status, report["outcome"].as_str()), (200, Some("loaded")));
    let (status, report) = service.post("/admin/plugins/echo/rollback", json!({})).await;
    assert_eq!((status, report["outcome"].as_str()), (200, Some("rolled_back")));
    let (status, _) = service.post("/admin/plugins/nope/reload", json!({})).await;
    assert_eq!(status, 404);
    let (status, reports) = service.post("/admin/plugins/reload", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(reports["reports"].as_array().unwrap().len(), 2);

    // Upload: the host-probe plugin, as a tool author would ship it.
    let probe = PluginsDir::new();
    probe.add("host-probe");
    let upload = json!({
        "manifest": probe.manifest("host-probe"),
        "wasm_base64": base64::engine::general_purpose::STANDARD.encode(probe.wasm("host-probe")),
    });
    let (status, report) = service.post("/admin/plugins", upload).await;
    assert_eq!((status, report["outcome"].as_str()), (201, Some("loaded")), "{report}");
    assert!(dir.path().join("host-probe/plugin.wasm").exists());
    assert_eq!(service.get("/admin/plugins").await.1["functions"], 9);

    // A rejected upload says why, in the API's error shape.
    let bad = json!({"manifest": probe.manifest("host-probe"), "wasm_base64": base64::engine::general_purpose::STANDARD.encode(b"junk")});
    let (status, error) = service.post("/admin/plugins", bad).await;
    assert_eq!(status, 422);
    assert_eq!(error["detail"][0]["type"], "plugin_rejected");
    assert_eq!(error["detail"][0]["loc"], json!(["body", "compile"]));
    let (status, _) = service.post("/admin/plugins", json!({"manifest": "", "wasm_base64": "%%%"})).await;
    assert_eq!(status, 422);

    // Delete: the plugin stops serving and its files go; a second delete finds nothing.
    let (status, report) = service.delete("/admin/plugins/host-probe").await;
    assert_eq!((status, report["outcome"].as_str()), (200, Some("removed")), "{report}");
    assert_eq!(report["plugin"], "host-probe");
    assert!(!dir.path().join("host-probe").exists());
    assert_eq!(service.get("/admin/plugins").await.1["functions"], 2);
    assert_eq!(service.delete("/admin/plugins/host-probe").await.0, 404);
    // A plugin only ever loaded from the directory, and a rejected one, go the same way.
    assert_eq!(service.delete("/admin/plugins/echo").await.0, 200);
    assert_eq!(service.delete("/admin/plugins/wrong-world").await.0, 200);
    assert!(!dir.path().join("echo").exists() && !dir.path().join("wrong-world").exists());
    let (_, listing) = service.get("/admin/plugins").await;
    assert_eq!((listing["functions"].as_u64(), listing["plugins"].as_array().map(Vec::len)), (Some(0), Some(0)));
}

/// `{"manifest", "wasm_base64"}` of built test plugin `name`.
fn upload_of(name: &str) -> Value {
    let plugin = PluginsDir::new();
    plugin.add(name);
    json!({
        "manifest": plugin.manifest(name),
        "wasm_base64": base64::engine::general_purpose::STANDARD.encode(plugin.wasm(name)),
    })
}

#[tokio::test]
async fn a_describe_that_never_returns_holds_up_neither_the_admin_api_nor_other_plugins() {
    let dir = PluginsDir::new();
    dir.add("echo");
    let service = Service::start(&dir).await;
    service.wait_ready().await;
    let (status, report) = service.post("/admin/plugins/echo/reload", json!({})).await;
    assert_eq!((status, report["outcome"].as_str()), (200, Some("loaded")), "echo has a version to roll back to");

    let slow = upload_of("slow-describe");
    let (http, url) = (service.http.clone(), format!("{}/admin/plugins", service.url));
    let first = tokio::spawn({
        let slow = slow.clone();
        async move {
            let started = std::time::Instant::now();
            let response = http.post(url).header("x-admin-key", KEY).json(&slow).send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap(), started.elapsed())
        }
    });
    // The listing answers while the load runs, and says so.
    let loading =
        poll_until(Duration::from_secs(60), "the upload of slow-describe being listed as loading", async || {
            let (status, listing) = service.get("/admin/plugins").await;
            let loading = listing["loading"].as_array().cloned().unwrap_or_default();
            match loading.iter().any(|l| l["plugin"] == "slow-describe") {
                true if status == 200 => Ok(listing),
                _ => Err(format!("{status}: {}", listing["loading"])),
            }
        })
        .await;
    assert_eq!(loading["functions"], 2, "the served tool set is echo's alone");

    // Meanwhile: a second upload of the same plugin is refused, others' operations go through.
    let (status, busy) = service.post("/admin/plugins", slow).await;
    assert_eq!(status, 409, "{busy}");
    let detail = busy["detail"].as_str().unwrap();
    assert!(detail.starts_with("plugin slow-describe is already being loaded (since "), "{detail}");
    let (status, report) = service.post("/admin/plugins/echo/reload", json!({})).await;
    assert_eq!((status, report["outcome"].as_str()), (200, Some("loaded")), "{report}");
    let (status, report) = service.post("/admin/plugins/echo/rollback", json!({})).await;
    assert_eq!((status, report["outcome"].as_str()), (200, Some("rolled_back")), "{report}");
    let (status, listing) = service.get("/admin/plugins").await;
    assert_eq!(status, 200);
    // Describe's deadline is 10 s: the operations above (each well under a second) ran inside it.
    assert_eq!(listing["loading"][0]["plugin"], "slow-describe", "all of that happened during the load");

    // The load is rejected at describe's deadline, and nothing of it stays.
    let (status, rejected, took) = first.await.unwrap();
    assert_eq!(status, 422, "{rejected}");
    assert_eq!(rejected["detail"][0]["loc"], json!(["body", "describe"]), "{rejected}");
    let message = rejected["detail"][0]["msg"].as_str().unwrap();
    assert!(message.contains("did not finish within 10 s"), "{message}");
    assert!(took < Duration::from_secs(60), "rejected within a bound, took {took:?}");
    let (_, listing) = service.get("/admin/plugins").await;
    assert_eq!(listing["loading"], json!([]));
    assert_eq!(listing["functions"], 2);
    assert!(!dir.path().join("slow-describe").exists());
    assert!(listing["database"]["active"].as_array().unwrap().is_empty(), "{}", listing["database"]);
}

#[tokio::test]
async fn concurrent_uploads_of_different_plugins_both_land() {
    let dir = PluginsDir::new();
    let service = Service::start(&dir).await;
    service.wait_ready().await;
    let (probe, spin) = (upload_of("host-probe"), upload_of("spin-loop"));
    let ((probe_status, probe_report), (spin_status, spin_report)) =
        tokio::join!(service.post("/admin/plugins", probe), service.post("/admin/plugins", spin));
    assert_eq!((probe_status, probe_report["outcome"].as_str()), (201, Some("loaded")), "{probe_report}");
    assert_eq!((spin_status, spin_report["outcome"].as_str()), (201, Some("loaded")), "{spin_report}");
    let (_, listing) = service.get("/admin/plugins").await;
    let mut names: Vec<&str> =
        listing["plugins"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["host-probe", "spin-loop"]);
    assert_eq!(listing["database"]["active"].as_array().unwrap().len(), 2, "{}", listing["database"]);
}
