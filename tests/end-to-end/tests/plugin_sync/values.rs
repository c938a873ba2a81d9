//! The plugins' settings and secrets across instances: a new plugin that needs a new origin and a
//! new API key is installed through the admin API alone (a setting, a secret, an upload; no host
//! change, no restart) and its service receives the key; the key rotated through one instance is
//! what the other sends next; abuse of a secret is refused at upload naming the rule; each change
//! is in the audit log once, and neither the log nor a listing ever shows a secret's value.

use serde_json::{Value, json};
use stand_ins::recording_server::RecordingServer;
use store::testing::BACKENDS;
use tools::{Caller, ToolCall};

use crate::{FOLLOW_WITHIN, admin, echo_wasm, pair, pair_with, upload};
use end_to_end::poll::poll_until;
use end_to_end::server::TestServer;

const FIRST_KEY: &str = "wx-key-first-0123456789";
const SECOND_KEY: &str = "wx-key-second-9876543210";

/// A plugin the service has never heard of: the echo component under a new name, calling a new
/// origin (a setting) with a new API key (a secret).
fn weather_manifest() -> String {
    r#"name = "weather"
version = "1.0.0"

[config]
base_url = "${setting:WEATHER_URL}"
label = "weather"

[[egress]]
origin = "${setting:WEATHER_URL}"
headers = { X-Api-Key = "${secret:WEATHER_KEY}" }
"#
    .to_string()
}

async fn put_value(server: &TestServer, kind: &str, name: &str, value: &str) -> (u16, Value) {
    let response = server
        .client()
        .put(server.url(&format!("/admin/plugins/weather/{kind}/{name}")))
        .header("x-admin-key", crate::KEY)
        .header("x-admin-actor", "ops")
        .body(value.to_string())
        .send()
        .await
        .expect("an admin request");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// The `X-Api-Key` the weather service received from `server`'s `echo_http` call, if it served one.
async fn key_sent(server: &TestServer, service: &RecordingServer) -> Option<String> {
    let before = service.requests().len();
    let call = ToolCall {
        function: "echo_http".to_string(),
        arguments: json!({"path": "/forecast"}),
        caller: Caller { user_id: "user-weather".to_string(), request_id: "r".to_string(), ..Caller::default() },
    };
    let result = server.state.tools.call(call).await.result.ok()?;
    assert!(!result.contains("wx-key"), "the result shows the secret: {result}");
    let requests = service.requests();
    let request = requests.get(before)?;
    request.header_values("x-api-key").first().map(|v| v.to_string())
}

#[tokio::test]
async fn a_new_plugin_with_a_new_origin_and_secret_works_and_a_rotation_reaches_every_instance() {
    for backend in BACKENDS {
        let service = RecordingServer::json(json!({"forecast": "sun"})).await;
        // The operator grants the new origin (a stand-in on loopback) in the policy file.
        let policy = tempfile::NamedTempFile::new().expect("a policy file");
        let grant = format!("[[grant]]\norigin = \"{}\"\nloopback = true\n", service.url());
        std::fs::write(policy.path(), grant).expect("writing the policy");
        let policy_path = policy.path().display().to_string();
        let (_db, a, b) = pair_with(backend, &[("PLUGIN_POLICY_FILE", &policy_path)]).await;

        let (status, set) = put_value(&a, "settings", "WEATHER_URL", &service.url()).await;
        assert_eq!((status, set["created"].as_bool()), (200, Some(true)), "{backend:?}: {set}");
        let (status, set) = put_value(&a, "secrets", "WEATHER_KEY", &format!("{FIRST_KEY}\n")).await;
        assert_eq!((status, set["created"].as_bool()), (200, Some(true)), "{backend:?}: {set}");
        let (status, report) = upload(&a, &weather_manifest(), &echo_wasm()).await;
        assert_eq!((status, report["outcome"].as_str()), (201, Some("loaded")), "{backend:?}: {report}");

        assert_eq!(key_sent(&a, &service).await.as_deref(), Some(FIRST_KEY), "{backend:?}");
        follows(&b, &service, FIRST_KEY).await;

        let (status, rotated) = put_value(&a, "secrets", "WEATHER_KEY", SECOND_KEY).await;
        assert_eq!((status, rotated["created"].as_bool()), (200, Some(false)), "{backend:?}: {rotated}");
        assert_eq!(rotated["reload"]["outcome"], "loaded", "{backend:?}: reloaded here at once: {rotated}");
        assert_eq!(key_sent(&a, &service).await.as_deref(), Some(SECOND_KEY), "{backend:?}");
        follows(&b, &service, SECOND_KEY).await;

        // Listings name the secret, never show it; settings show their value.
        let (status, secrets) = admin(&b, reqwest::Method::GET, "/admin/plugins/weather/secrets", None).await;
        assert_eq!(status, 200);
        assert_eq!(secrets["values"][0]["name"], "WEATHER_KEY", "{secrets}");
        assert!(secrets["values"][0].get("value").is_none() && !secrets.to_string().contains("wx-key"), "{secrets}");
        let (_, settings) = admin(&b, reqwest::Method::GET, "/admin/plugins/weather/settings", None).await;
        assert_eq!(settings["values"][0]["value"], service.url(), "{settings}");

        // Each change once, oldest first here, without a value anywhere.
        let (status, audit) = admin(&a, reqwest::Method::GET, "/admin/audit?plugin=weather", None).await;
        assert_eq!(status, 200);
        assert!(!audit.to_string().contains("wx-key"), "the audit log shows a secret: {audit}");
        let mut actions: Vec<(String, String)> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap().to_string(), e["detail"].as_str().unwrap_or("").to_string()))
            .collect();
        actions.reverse();
        let names: Vec<&str> = actions.iter().map(|(action, _)| action.as_str()).collect();
        assert_eq!(names, ["setting_set", "secret_set", "upload", "secret_rotate"], "{backend:?}: {audit}");
        assert!(actions[3].1.starts_with("secret WEATHER_KEY; plugin loaded"), "{:?}", actions[3]);

        // Deleting the secret leaves a plugin that cannot load here: the old version keeps serving.
        let (status, deleted) =
            admin(&a, reqwest::Method::DELETE, "/admin/plugins/weather/secrets/WEATHER_KEY", None).await;
        assert_eq!(status, 200, "{deleted}");
        assert_eq!(deleted["reload"]["outcome"], "rejected", "{deleted}");
        assert!(
            deleted["reload"]["error"]["message"].as_str().unwrap().contains("secret WEATHER_KEY is not set"),
            "{deleted}"
        );
        let (status, _) = admin(&a, reqwest::Method::DELETE, "/admin/plugins/weather/secrets/WEATHER_KEY", None).await;
        assert_eq!(status, 404);
    }
}

/// Polls until `server` sends `key` to `service` (it follows the database on its own poll).
async fn follows(server: &TestServer, service: &RecordingServer, key: &str) {
    poll_until(FOLLOW_WITHIN, format_args!("{} sending the new key", server.base_url), async || {
        match key_sent(server, service).await {
            Some(sent) if sent == key => Ok(()),
            Some(_) => Err("another key".to_string()),
            None => Err("no call".to_string()),
        }
    })
    .await;
}

#[tokio::test]
async fn a_secret_outside_an_exact_origins_headers_is_refused_at_upload_naming_the_rule() {
    let (_db, a, _b) = pair(store::Backend::Sqlite).await;
    put_value(&a, "secrets", "WEATHER_KEY", FIRST_KEY).await;
    let in_config = weather_manifest().replace("label = \"weather\"", "label = \"${secret:WEATHER_KEY}\"");
    let to_wildcard = weather_manifest()
        .replace("origin = \"${setting:WEATHER_URL}\"", "origin = \"https://*.onrender.com\"")
        .replace("base_url = \"${setting:WEATHER_URL}\"", "base_url = \"https://x.onrender.com\"");
    for (manifest, place) in [(in_config, "config.label"), (to_wildcard, "egress[0].headers.X-Api-Key")] {
        let (status, refused) = upload(&a, &manifest, &echo_wasm()).await;
        assert_eq!(status, 422, "{refused}");
        let detail = refused.to_string();
        assert!(detail.contains(place), "{detail}");
        assert!(
            detail.contains("refused by policy rule \\\"secrets only in egress headers of exact origins\\\""),
            "{detail}"
        );
        assert!(!detail.contains("wx-key"), "{detail}");
    }
    assert!(a.state.tools.functions().is_empty(), "nothing was installed");
}
