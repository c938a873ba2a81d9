//! `chat-api plugins dev DIR`: the first build is checked and uploaded to the running service, and
//! a real change of a source file (here the manifest's version, with a `build.sh` build as a
//! Python or JavaScript plugin has) is rebuilt, checked and uploaded again.

use std::time::Duration;

use end_to_end::plugin_admin::listed_echo;
use end_to_end::poll::poll_until;
use end_to_end::server::TestServer;
use store::testing::TestDatabase;

use crate::{chat_api, plugin_copy, with_version};

const ADMIN_KEY: &str = "dev-loop-test-admin-key-0123456789abcdef";

/// Waits until the service lists `echo` at `version`.
async fn listed_at(server: &TestServer, version: &str) {
    poll_until(Duration::from_secs(60), &format!("echo {version} listed"), async || {
        let echo = listed_echo(server, ADMIN_KEY).await;
        if echo["version"] == version { Ok(()) } else { Err(format!("listed: {echo}")) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_uploads_the_first_build_and_again_after_a_change() {
    let server =
        TestServer::start(&[("ADMIN_API_KEY", ADMIN_KEY)], TestDatabase::sqlite().await.unwrap()).await.unwrap();
    // A non-Rust layout: build.sh makes plugin.wasm from the "sources".
    let plugin = plugin_copy("echo", Some("1.0.0"));
    std::fs::rename(plugin.path().join("plugin.wasm"), plugin.path().join("component.wasm")).unwrap();
    std::fs::write(plugin.path().join("build.sh"), "cp component.wasm plugin.wasm\n").unwrap();

    let dir = plugin.path().to_string_lossy().into_owned();
    let url = server.base_url.clone();
    let dev = tokio::spawn(async move {
        chat_api(&["plugins", "dev", &dir, "--url", &url, "--poll-ms", "200"], &[("ADMIN_API_KEY", ADMIN_KEY)]).await
    });
    listed_at(&server, "1.0.0").await;
    assert!(plugin.path().join("plugin.wasm").is_file(), "built by build.sh");

    let manifest = plugin.path().join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, with_version(&text, "1.0.1")).unwrap();
    listed_at(&server, "1.0.1").await;

    assert!(!dev.is_finished(), "dev keeps watching");
    dev.abort();
}
