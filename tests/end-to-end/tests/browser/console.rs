//! The operator console at `/admin/` in headless Chromium: refused with a wrong key, signed in with
//! `ADMIN_API_KEY` it lists the plugins, and rolling one back shows the version change and the
//! rollback in the audit log.

use end_to_end::plugin_admin::{echo_manifest, echo_wasm, upload};
use end_to_end::plugins::PluginsDir;
use end_to_end::server::TestServer;
use store::testing::TestDatabase;

use crate::Browser;

const ADMIN_KEY: &str = "console-browser-admin-key-0123456789abcdef";

const ECHO_VERSION: &str = "tr.plugin[data-name=\"echo\"] .version";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_lists_and_rolls_back_in_headless_chromium() {
    let plugins = PluginsDir::new();
    plugins.add("echo");
    let dir = plugins.path().to_string_lossy().into_owned();
    let db = TestDatabase::sqlite().await.unwrap();
    let server = TestServer::start(&[("ADMIN_API_KEY", ADMIN_KEY), ("PLUGINS_DIR", &dir)], db).await.unwrap();
    for version in ["1.0.0", "2.0.0"] {
        let (status, report) = upload(&server, ADMIN_KEY, &echo_manifest(version, version), &echo_wasm(), None).await;
        assert_eq!(status, 201, "{report}");
    }

    let browser = Browser::start().await;
    browser.open(&format!("{}/admin/", server.base_url)).await;
    browser.type_into("#key", "not-the-admin-key").await;
    browser.click("#sign-in").await;
    browser.wait_for("#refused", "the refusal", |t| t.first().is_some_and(|r| r.starts_with("Refused: 403"))).await;
    assert!(browser.texts("tr.plugin").await.is_empty(), "nothing listed without the key");

    browser.type_into("#key", ADMIN_KEY).await;
    browser.click("#sign-in").await;
    browser.wait_for(ECHO_VERSION, "echo 2.0.0 listed", |t| t == ["2.0.0"]).await;
    let functions = browser.texts("tr.plugin[data-name=\"echo\"] .functions").await;
    assert_eq!(functions, ["echo, echo_http"]);
    let sha = browser.texts("tr.plugin[data-name=\"echo\"] .sha256").await;
    assert_eq!(sha[0], end_to_end::plugin_admin::sha256(&echo_wasm())[..12]);

    browser.click("tr.plugin[data-name=\"echo\"] button.roll-back").await;
    browser.wait_for(ECHO_VERSION, "echo rolled back to 1.0.0", |t| t == ["1.0.0"]).await;
    browser
        .wait_for("#status", "the rollback's outcome", |t| t.first().is_some_and(|s| s.contains("rolled_back")))
        .await;
    let actions =
        browser.wait_for("#audit .action", "the audit log", |t| t.first().is_some_and(|a| a == "rollback")).await;
    assert!(actions.iter().filter(|a| *a == "upload").count() >= 2, "{actions:?}");
    drop(browser);
}
