//! The service's side: `/health/ready` waits for the tool set, and the plugin admin API (behind
//! `X-Internal-Key`) lists, reloads, rolls back and accepts uploads, over real HTTP.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use end_to_end::plugins::PluginsDir;
use host::app::App;
use host::config::Config;
use serde_json::{Value, json};
use store::testing::TestDatabase;

const KEY: &str = "test-internal-key";

struct Service {
    url: String,
    http: reqwest::Client,
    tools: Arc<tools::Registry>,
    _server: tokio::task::JoinHandle<()>,
    _db: TestDatabase,
    _process: tokio::sync::RwLockReadGuard<'static, ()>,
}

impl Service {
    async fn start(dir: &PluginsDir) -> Service {
        let process = crate::support::shared_process().await;
        let db = TestDatabase::sqlite().await.unwrap();
        let vars: HashMap<String, String> = [
            ("PLUGINS_DIR", dir.path().display().to_string()),
            ("PLUGINS_WATCH", "false".to_string()),
            ("INTERNAL_API_KEY", KEY.to_string()),
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

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.url)).header("x-internal-key", KEY).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("x-internal-key", KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// Waits until the initial tool set has loaded (in the background, after start-up).
    async fn wait_ready(&self) {
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
async fn the_admin_api_needs_the_internal_key() {
    let dir = PluginsDir::new();
    let service = Service::start(&dir).await;
    let missing = service.http.get(format!("{}/admin/plugins", service.url)).send().await.unwrap();
    assert_eq!(missing.status(), 422);
    let wrong = service
        .http
        .get(format!("{}/admin/plugins", service.url))
        .header("x-internal-key", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
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
}
