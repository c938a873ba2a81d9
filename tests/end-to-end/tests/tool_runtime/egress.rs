//! Egress: what reaches the services a plugin calls, and what never reaches the plugin. The host
//! adds the caller's credentials and the manifest's secrets on the way out, over whatever the guest
//! set; the guest sees neither, wherever it looks (the secret here set by an operator in the
//! plugin's store, as production does).

use end_to_end::plugins::PluginsDir;
use serde_json::{Value, json};
use stand_ins::recording_server::{RecordingServer, reply};
use store::testing::TestDatabase;
use store::{SecretsKey, ValueKind};
use tools::Caller;

use crate::support::{Harness, point_echo, settings, trusting};

const SECRET: &str = "sk-live-0123456789abcdef";
const USER_TOKEN: &str = "Bearer eyJ.user-token.signature";

/// Calls `peek` with the secret set by an operator in the plugin's store (sealed in the database,
/// opened by the runtime) and the origin a host default.
async fn peek(authorization: Option<&str>) -> (RecordingServer, Value) {
    let server = RecordingServer::json(json!({"ok": true})).await;
    let dir = PluginsDir::new();
    dir.add("peek-secrets");
    let origin = server.url();
    let db = TestDatabase::sqlite().await.expect("a test database");
    let key = SecretsKey::from_bytes([9; 32]);
    db.store.plugin_value_set(&key, "peek-secrets", ValueKind::Secret, "PEEK_SECRET", SECRET).await.unwrap();
    let process = crate::support::shared_process().await;
    let harness = Harness::with_database(
        &dir,
        db,
        move |config| {
            config.defaults = settings(&[("PEEK_ORIGIN", &origin)]);
            config.secrets_key = Some(key);
            config.policy = trusting(&[&origin]);
        },
        process,
    )
    .await;
    let mut call = crate::support::call(
        "peek",
        json!({"url": format!("{}/whoami", server.url()), "socket_addr": server.addr().to_string()}),
    );
    call.caller = Caller { authorization: authorization.map(str::to_string), ..call.caller };
    let outcome = harness.registry.call(call).await;
    let text = outcome.result.unwrap_or_else(|err| panic!("peek failed: {err}"));
    assert!(!text.contains(SECRET), "the guest saw the secret: {text}");
    assert!(!text.contains("user-token"), "the guest saw the user's token: {text}");
    (server, serde_json::from_str(&text).unwrap())
}

#[tokio::test]
async fn a_guest_never_sees_the_secret_or_the_user_token_it_had_injected() {
    let (server, seen) = peek(Some(USER_TOKEN)).await;

    // The service received the credentials, once each, overwriting what the guest forged.
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.header_values("authorization"), [USER_TOKEN]);
    assert_eq!(request.header_values("x-user-id"), ["user-1"]);
    assert_eq!(request.header_values("x-api-key"), [SECRET]);

    // The guest only ever saw its own forgeries, and found nothing anywhere else.
    assert_eq!(seen["sent_headers"][0], json!(["Authorization", "Bearer forged-by-guest"]));
    assert_eq!(seen["env"], json!([]));
    assert_eq!(seen["args"], json!([]));
    assert!(seen["root_dir"].as_str().unwrap().starts_with("Err("), "{}", seen["root_dir"]);
    assert!(seen["socket"].as_str().unwrap().starts_with("Err("), "{}", seen["socket"]);
    assert!(seen["config"].as_array().unwrap().iter().all(|pair| pair[1].is_null()), "{}", seen["config"]);
    assert_eq!(seen["context"], json!({"user_id": "user-1", "session_id": "session-1", "request_id": "request-1"}));
    assert_eq!(seen["response"]["body"], r#"{"ok":true}"#);
}

#[tokio::test]
async fn without_a_caller_token_no_authorization_is_sent_at_all() {
    let (server, _) = peek(None).await;
    let request = &server.requests()[0];
    // The guest's forged header is dropped too: a rule that forwards user auth owns the header.
    assert!(request.header_values("authorization").is_empty(), "{:?}", request.headers);
    assert_eq!(request.header_values("x-user-id"), ["user-1"]);
}

#[tokio::test]
async fn the_example_plugin_calls_its_service_with_the_users_credentials() {
    let server = RecordingServer::json(json!({"workouts": []})).await;
    let dir = PluginsDir::new();
    dir.add("echo");
    let origin = server.url();
    let harness = Harness::start(&dir, move |config| point_echo(config, &origin)).await;
    let mut call = crate::support::call(
        "echo_http",
        json!({"path": "/workouts?limit=5", "method": "POST", "body": {"q": "legs"}}),
    );
    call.caller.authorization = Some(USER_TOKEN.to_string());
    let outcome = harness.registry.call(call).await;
    let result: Value = serde_json::from_str(&outcome.result.unwrap()).unwrap();
    assert_eq!(result, json!({"status": 200, "body": {"workouts": []}, "label": "echo 0.1.0"}));
    let request = &server.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str(), request.query.as_deref()),
        ("POST", "/workouts", Some("limit=5"))
    );
    assert_eq!(request.json(), json!({"q": "legs"}));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), Some(USER_TOKEN));
    assert_eq!(request.header("x-user-id"), Some("user-1"));
    assert_eq!(request.header("host"), Some(server.addr().to_string().as_str()));
}

#[tokio::test]
async fn downstream_failures_read_as_the_original_messages() {
    let server = RecordingServer::start(|request| async move {
        match request.path.trim_start_matches('/').parse::<u16>() {
            Ok(status) => reply::json(status, json!({"detail": "nope"})),
            Err(_) => futures::future::pending().await,
        }
    })
    .await;
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = PluginsDir::new();
    dir.add("egress-probe");
    // The call's budget is thirty times the plugin's own 1 s timeout, so that one fires first on any machine.
    let manifest = dir.manifest("egress-probe").replace("timeout_seconds = 3", "timeout_seconds = 30");
    dir.write_manifest("egress-probe", &manifest);
    let allowed = server.url();
    let harness = Harness::start(&dir, move |config| {
        let closed = format!("http://127.0.0.1:{closed_port}");
        config.defaults = settings(&[("PROBE_ALLOWED_ORIGIN", &allowed), ("PROBE_NAMED_ORIGIN", &closed)]);
        config.policy = trusting(&[&allowed, &closed]);
    })
    .await;
    let fetch = |path: String| json!({"url": path, "require_success": true, "timeout_seconds": 1});
    let cases = [
        (format!("{}/401", server.url()), "Authentication error. Please try logging in again."),
        (format!("{}/404", server.url()), "The requested item was not found."),
        (format!("{}/503", server.url()), "Service error (503)"),
        (format!("http://127.0.0.1:{closed_port}/"), "Unable to connect to the service."),
        // The plugin's own 1 s timeout, well within the call's budget: the plugin reports it.
        (format!("{}/silent", server.url()), "The service is taking too long. Please try again."),
    ];
    for (url, expected) in cases {
        assert_eq!(harness.fails("fetch", fetch(url), "execution_error").await, expected);
    }
    assert_eq!(harness.ok("fetch", fetch(format!("{}/200", server.url()))).await["status"], 200);
}
