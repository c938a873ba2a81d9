//! `chat-api plugins push DIR --url URL` against a running service: an upload that activates, one
//! signed with the configured key for a service that enforces signatures, and the refusals (no
//! signature where one is required, a wrong admin key) reported as failures.

use std::process::ExitCode;

use end_to_end::plugin_admin::listed_echo;
use end_to_end::server::TestServer;
use store::testing::TestDatabase;

use crate::{chat_api, plugin_copy};

const ADMIN_KEY: &str = "push-test-admin-key-0123456789abcdef";

async fn server(overrides: &[(&str, &str)]) -> TestServer {
    let db = TestDatabase::sqlite().await.unwrap();
    let mut vars = vec![("ADMIN_API_KEY", ADMIN_KEY)];
    vars.extend_from_slice(overrides);
    TestServer::start(&vars, db).await.unwrap()
}

#[tokio::test]
async fn push_uploads_and_reports_the_activation() {
    let server = server(&[]).await;
    let plugin = plugin_copy("echo", Some("2.0.0"));
    let dir = plugin.path().to_string_lossy().into_owned();
    let code = chat_api(&["plugins", "push", &dir, "--url", &server.base_url], &[("ADMIN_API_KEY", ADMIN_KEY)]).await;
    assert_eq!(code, ExitCode::SUCCESS);
    let echo = listed_echo(&server, ADMIN_KEY).await;
    assert_eq!(echo["version"], "2.0.0", "{echo}");
    assert_eq!(echo["signature"]["status"], "unsigned");

    let wrong_key =
        chat_api(&["plugins", "push", &dir, "--url", &server.base_url], &[("ADMIN_API_KEY", "not-the-key")]).await;
    assert_eq!(wrong_key, ExitCode::FAILURE);
}

#[tokio::test]
async fn push_signs_with_the_configured_key_where_signatures_are_enforced() {
    let (public, secret, key_id) = tools::signing::generate_key_pair().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let secret_file = keys.path().join("plugin-signing.key");
    std::fs::write(&secret_file, secret).unwrap();
    let trusted = public.lines().nth(1).unwrap().to_string();
    let server = server(&[("PLUGIN_SIGNATURES", "enforce"), ("PLUGIN_TRUSTED_KEYS", &trusted)]).await;
    let plugin = plugin_copy("echo", Some("3.0.0"));
    let dir = plugin.path().to_string_lossy().into_owned();

    let unsigned =
        chat_api(&["plugins", "push", &dir, "--url", &server.base_url], &[("ADMIN_API_KEY", ADMIN_KEY)]).await;
    assert_eq!(unsigned, ExitCode::FAILURE, "refused: not signed");
    assert!(listed_echo(&server, ADMIN_KEY).await.is_null());

    let key = secret_file.to_string_lossy().into_owned();
    let env = [("ADMIN_API_KEY", ADMIN_KEY), ("PLUGIN_SIGNING_KEY_FILE", key.as_str())];
    let signed = chat_api(&["plugins", "push", &dir, "--url", &server.base_url], &env).await;
    assert_eq!(signed, ExitCode::SUCCESS);
    let echo = listed_echo(&server, ADMIN_KEY).await;
    assert_eq!((echo["version"].as_str(), echo["signature"]["status"].as_str()), (Some("3.0.0"), Some("verified")));
    assert_eq!(echo["signature"]["key_id"], key_id);
    assert!(!plugin.path().join("plugin.sig").exists(), "signed in memory: the directory is left as it was");
}
