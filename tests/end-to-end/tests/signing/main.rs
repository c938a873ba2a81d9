//! Signed plugins (issue #11 item 3), through the real service and on both backends: under
//! `PLUGIN_SIGNATURES=enforce` an upload that is unsigned, tampered with (one byte of the component,
//! one line of the manifest), signed by an untrusted key or an older version replayed is refused
//! with a message saying why; a version written straight into the database (as someone holding the
//! database's credentials but no signing key would) is refused when the set is applied, and a
//! rollback only reaches a version that verifies. A properly signed upload loads and serves, and the
//! listing names its signer. Under `warn` unsigned and untrusted plugins load, listed as such; a
//! plugin directory signed after being refused loads on the next reload. Keys are made in-test.

use std::str::FromStr;

use end_to_end::plugin_admin::{self, echo_label, echo_manifest, echo_wasm, sha256};
use end_to_end::plugins::PluginsDir;
use end_to_end::server::TestServer;
use serde_json::{Value, json};
use store::testing::{BACKENDS, TestDatabase};
use store::{Backend, Store};
use tools::signing;

const ADMIN_KEY: &str = "signing-suite-admin-key";

/// A key pair made for the test: the `PLUGIN_TRUSTED_KEYS` value and the secret key's text.
struct Key {
    public: String,
    secret: String,
    id: String,
}

impl Key {
    fn new() -> Key {
        let (public_file, secret, id) = signing::generate_key_pair().expect("a key pair");
        let public = public_file.lines().nth(1).expect("the base64 line").to_string();
        Key { public, secret, id }
    }

    /// The `plugin.sig` of these files.
    fn sign(&self, manifest: &str, wasm: &[u8], comment: &str) -> String {
        signing::sign(&self.secret, &sha256(wasm), &sha256(manifest.as_bytes()), comment).expect("signing")
    }
}

/// A service with `policy`, trusting `trusted`, over `db` (its own pool; no polling: the test
/// applies the database's set when it means to).
async fn service(db: &TestDatabase, policy: &str, trusted: &Key, plugins_dir: Option<&PluginsDir>) -> TestServer {
    let dir = plugins_dir.map(|d| d.path().display().to_string());
    let mut vars = vec![
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("PLUGINS_SYNC_SECONDS", "0"),
        ("PLUGIN_SIGNATURES", policy),
        ("PLUGIN_TRUSTED_KEYS", trusted.public.as_str()),
    ];
    if let Some(dir) = &dir {
        vars.push(("PLUGINS_DIR", dir.as_str()));
    }
    let store = Store::connect(&db.options()).await.expect("opening the test database");
    TestServer::start_with_store(&vars, store, None).await.expect("starting the service")
}

async fn admin(server: &TestServer, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    plugin_admin::admin(server, ADMIN_KEY, method, path, body).await
}

async fn upload(server: &TestServer, manifest: &str, wasm: &[u8], signature: Option<&str>) -> (u16, Value) {
    plugin_admin::upload(server, ADMIN_KEY, manifest, wasm, signature).await
}

/// The refusal of an upload: 422 at the signature step, with its message.
fn refusal(status: u16, body: &Value) -> String {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["type"], "plugin_rejected", "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "signature"]), "{body}");
    body["detail"][0]["msg"].as_str().unwrap().to_string()
}

async fn listed_echo(server: &TestServer) -> Value {
    plugin_admin::listed_echo(server, ADMIN_KEY).await
}

/// Runs SQL on the test database past the service, as a database writer without a signing key
/// would. `{wasm}` in a statement stands for the given component as a binary literal.
async fn sql_as_database_writer(db: &TestDatabase, wasm: &[u8], statements: &[String]) {
    let hex = hex::encode(wasm);
    match db.backend() {
        Backend::Postgres => {
            let options = sqlx::postgres::PgConnectOptions::from_str(&db.url)
                .expect("url")
                .options([("search_path", db.schema.as_deref().expect("schema"))]);
            let pool = sqlx::PgPool::connect_with(options).await.expect("connect");
            for statement in statements {
                let statement = statement.replace("{wasm}", &format!("decode('{hex}', 'hex')"));
                sqlx::query(&statement).execute(&pool).await.expect("a database writer's statement");
            }
            pool.close().await;
        }
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.expect("connect");
            for statement in statements {
                let statement = statement.replace("{wasm}", &format!("X'{hex}'"));
                sqlx::query(&statement).execute(&pool).await.expect("a database writer's statement");
            }
            pool.close().await;
        }
    }
}

#[tokio::test]
async fn enforce_loads_only_versions_signed_by_a_trusted_key_from_uploads_and_the_database() {
    for backend in BACKENDS {
        let trusted = Key::new();
        let stranger = Key::new();
        let db = TestDatabase::new(backend).await.expect("a test database");
        let server = service(&db, "enforce", &trusted, None).await;
        let wasm = echo_wasm();
        let one = echo_manifest("1.0.0", "one");

        // Unsigned, tampered (one byte of the component, one line of the manifest), wrong key.
        let message = refusal_of(upload(&server, &one, &wasm, None).await);
        assert!(message.starts_with("the plugin is unsigned (no plugin.sig)"), "{backend:?}: {message}");
        let signature = trusted.sign(&one, &wasm, "plugin echo 1.0.0");
        let mut flipped = wasm.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let message = refusal_of(upload(&server, &one, &flipped, Some(&signature)).await);
        assert!(message.contains(&format!("the signature by key {} does not match", trusted.id)), "{message}");
        let relabelled = one.replace("label = \"one\"", "label = \"tampered\"");
        assert_ne!(relabelled, one);
        let message = refusal_of(upload(&server, &relabelled, &wasm, Some(&signature)).await);
        assert!(message.contains("does not match"), "{message}");
        let message = refusal_of(upload(&server, &one, &wasm, Some(&stranger.sign(&one, &wasm, "x"))).await);
        assert!(message.contains(&format!("signed by key {}, which is not in PLUGIN_TRUSTED_KEYS", stranger.id)));
        let message = refusal_of(upload(&server, &one, &wasm, Some("not a signature")).await);
        assert!(message.contains("not a minisign signature"), "{message}");
        assert_eq!(echo_label(&server).await, None, "{backend:?}: nothing refused serves");
        assert_eq!(server.store().plugin_active("echo").await.unwrap(), None, "nor is stored as active");

        // Properly signed: loads, serves, and the listing names the signer.
        let (status, report) = upload(&server, &one, &wasm, Some(&signature)).await;
        assert_eq!((status, report["outcome"].as_str()), (201, Some("loaded")), "{backend:?}: {report}");
        assert_eq!(echo_label(&server).await.as_deref(), Some("one"));
        let listed = listed_echo(&server).await;
        assert_eq!(
            listed["signature"],
            json!({"status": "verified", "key_id": trusted.id, "trusted_comment": "plugin echo 1.0.0"}),
            "{listed}"
        );
        let two = echo_manifest("2.0.0", "two");
        let two_signature = trusted.sign(&two, &wasm, "plugin echo 2.0.0");
        assert_eq!(upload(&server, &two, &wasm, Some(&two_signature)).await.0, 201);
        assert_eq!(echo_label(&server).await.as_deref(), Some("two"));
        // Uploading the newest version again is no replay.
        assert_eq!(upload(&server, &two, &wasm, Some(&two_signature)).await.0, 201);

        // The validly signed 1.0.0 replayed: refused (a rollback is the way back).
        let message = refusal_of(upload(&server, &one, &wasm, Some(&signature)).await);
        assert!(message.starts_with("version 1.0.0 of echo is not newer than 2.0.0"), "{message}");
        let older = echo_manifest("1.5.0", "older");
        let message = refusal_of(upload(&server, &older, &wasm, Some(&trusted.sign(&older, &wasm, "x"))).await);
        assert!(message.contains("not newer than 2.0.0"), "{message}");
        assert_eq!(echo_label(&server).await.as_deref(), Some("two"));
        let (status, report) = rollback(&server).await;
        assert_eq!((status, report["version"].as_str()), (200, Some("1.0.0")), "{report}");
        assert_eq!(echo_label(&server).await.as_deref(), Some("one"));
        assert_eq!(rollback(&server).await.0, 200);
        assert_eq!(echo_label(&server).await.as_deref(), Some("two"));

        // A database writer stores a version of their own (with the signature of 2.0.0 copied
        // over) and makes it the rollback target: the rollback is refused, and undone there.
        let injected = echo_manifest("3.0.0", "injected");
        let (wasm_sha, manifest_sha) = (sha256(&wasm), sha256(injected.as_bytes()));
        let signature_literal = two_signature.replace('\'', "''");
        sql_as_database_writer(
            &db,
            &wasm,
            &[
                format!(
                    "INSERT INTO plugin_versions (name, sha256, manifest_sha256, version, manifest, wasm, uploaded_at, signature) \
                     VALUES ('echo', '{wasm_sha}', '{manifest_sha}', '3.0.0', '{}', {{wasm}}, '2026-12-03T00:00:00Z', '{signature_literal}')",
                    injected.replace('\'', "''")
                ),
                format!(
                    "UPDATE plugin_active SET previous_sha256 = '{wasm_sha}', previous_manifest_sha256 = '{manifest_sha}' WHERE name = 'echo'"
                ),
                "UPDATE plugin_generation SET generation = generation + 1".to_string(),
            ],
        )
        .await;
        let (status, refused) = rollback(&server).await;
        let message = refusal(status, &refused);
        assert!(message.contains("does not match"), "{backend:?}: {message}");
        assert_eq!(echo_label(&server).await.as_deref(), Some("two"), "the verified version keeps serving");
        let active = server.store().plugin_active("echo").await.unwrap().unwrap();
        assert_eq!(active.key.manifest_sha256, sha256(two.as_bytes()), "the rollback is undone in the database");

        // Then stores another and makes it the active version: applying the set refuses it.
        let active_injected = echo_manifest("3.0.1", "injected-active");
        let manifest_sha = sha256(active_injected.as_bytes());
        sql_as_database_writer(
            &db,
            &wasm,
            &[
                format!(
                    "INSERT INTO plugin_versions (name, sha256, manifest_sha256, version, manifest, wasm, uploaded_at) \
                     VALUES ('echo', '{wasm_sha}', '{manifest_sha}', '3.0.1', '{}', {{wasm}}, '2026-12-03T00:00:00Z')",
                    active_injected.replace('\'', "''")
                ),
                format!(
                    "UPDATE plugin_active SET sha256 = '{wasm_sha}', manifest_sha256 = '{manifest_sha}' WHERE name = 'echo'"
                ),
                "UPDATE plugin_generation SET generation = generation + 1".to_string(),
            ],
        )
        .await;
        let reports = server.state.tools.follow_database().await.expect("applying the set").expect("a change");
        let report = reports.iter().find(|r| r.plugin.as_deref() == Some("echo")).expect("echo's report");
        let error = report.error.as_ref().expect("refused");
        assert_eq!(error.stage, tools::LoadStage::Signature, "{backend:?}: {error}");
        assert!(error.message.starts_with("the plugin is unsigned"), "{error}");
        assert_eq!(echo_label(&server).await.as_deref(), Some("two"), "the verified version keeps serving");
        let listed = listed_echo(&server).await;
        assert_eq!(listed["last_rejection"]["error"]["stage"], "signature", "{listed}");
        // A fresh instance over the same database refuses it too, and serves nothing in its place.
        let fresh = service(&db, "enforce", &trusted, None).await;
        assert_eq!(echo_label(&fresh).await, None, "{backend:?}");
        assert_eq!(listed_echo(&fresh).await["last_rejection"]["error"]["stage"], "signature");
    }
}

fn refusal_of((status, body): (u16, Value)) -> String {
    refusal(status, &body)
}

async fn rollback(server: &TestServer) -> (u16, Value) {
    admin(server, reqwest::Method::POST, "/admin/plugins/echo/rollback", Some(json!({}))).await
}

#[tokio::test]
async fn warn_loads_unsigned_and_untrusted_plugins_and_lists_them_as_such() {
    let trusted = Key::new();
    let stranger = Key::new();
    let db = TestDatabase::sqlite().await.unwrap();
    let server = service(&db, "warn", &trusted, None).await;
    let wasm = echo_wasm();

    let one = echo_manifest("1.0.0", "unsigned");
    assert_eq!(upload(&server, &one, &wasm, None).await.0, 201);
    assert_eq!(echo_label(&server).await.as_deref(), Some("unsigned"));
    assert_eq!(listed_echo(&server).await["signature"], json!({"status": "unsigned"}));

    let two = echo_manifest("2.0.0", "untrusted");
    assert_eq!(upload(&server, &two, &wasm, Some(&stranger.sign(&two, &wasm, "x"))).await.0, 201);
    let signature = &listed_echo(&server).await["signature"];
    assert_eq!((signature["status"].as_str(), signature["key_id"].as_str()), (Some("untrusted"), Some(&*stranger.id)));

    // `warn` does not refuse replays either: only `enforce` does.
    assert_eq!(upload(&server, &one, &wasm, Some(&trusted.sign(&one, &wasm, "plugin echo 1.0.0"))).await.0, 201);
    assert_eq!(listed_echo(&server).await["signature"]["status"], "verified");
}

#[tokio::test]
async fn a_refused_plugin_directory_loads_once_signed() {
    let trusted = Key::new();
    let plugins = PluginsDir::new();
    let dir = plugins.add("echo");
    let db = TestDatabase::sqlite().await.unwrap();
    let server = service(&db, "enforce", &trusted, Some(&plugins)).await;
    assert_eq!(echo_label(&server).await, None);
    let listed = listed_echo(&server).await;
    assert_eq!(listed["status"], "rejected", "{listed}");
    assert_eq!(listed["last_rejection"]["error"]["stage"], "signature");

    tools::author::sign(&dir, &trusted.secret).expect("signing the directory");
    // Only the signature changed: a reload that skips unchanged plugins still picks it up.
    server.state.tools.reload_all(false).await;
    assert!(echo_label(&server).await.is_some(), "{}", listed_echo(&server).await);
    let signature = &listed_echo(&server).await["signature"];
    assert_eq!(signature["key_id"], trusted.id);
    assert!(signature["trusted_comment"].as_str().unwrap().starts_with("plugin echo "), "{signature}");
}
