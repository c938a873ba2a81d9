//! What the operator console needs from the service: the page and its script served with a strict
//! content security policy and no credential (they hold no data), and the admin listing carrying
//! the latency of recent calls next to the calls and failures by code.

use end_to_end::plugin_admin::{echo_label, listed_echo};
use end_to_end::plugins::PluginsDir;
use end_to_end::server::TestServer;
use store::testing::TestDatabase;

const ADMIN_KEY: &str = "console-test-admin-key-0123456789abcdef";

#[tokio::test]
async fn the_console_is_served_as_static_files_under_a_strict_policy() {
    let server =
        TestServer::start(&[("ADMIN_API_KEY", ADMIN_KEY)], TestDatabase::sqlite().await.unwrap()).await.unwrap();
    let page = server.client().get(server.url("/admin/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script src="/admin/console.js""#) && !html.contains(ADMIN_KEY));

    let script = server.client().get(server.url("/admin/console.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    let script = script.text().await.unwrap();
    assert!(script.contains("\"Bearer \" + adminKey") && !script.contains("innerHTML"), "data is set as text only");

    let redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let bare = redirect.get(server.url("/admin")).send().await.unwrap();
    assert_eq!((bare.status().as_u16(), bare.headers()["location"].to_str().unwrap()), (308, "/admin/"));
    // The data is not open: the listing still needs the key.
    assert_eq!(server.client().get(server.url("/admin/plugins")).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn the_listing_shows_the_latency_of_recent_calls() {
    let plugins = PluginsDir::new();
    plugins.add("echo");
    let dir = plugins.path().to_string_lossy().into_owned();
    let server = TestServer::start(
        &[("ADMIN_API_KEY", ADMIN_KEY), ("PLUGINS_DIR", &dir)],
        TestDatabase::sqlite().await.unwrap(),
    )
    .await
    .unwrap();
    assert!(listed_echo(&server, ADMIN_KEY).await["stats"]["latency"].is_null(), "no calls yet");
    for _ in 0..3 {
        assert!(echo_label(&server).await.is_some());
    }
    let latency = listed_echo(&server, ADMIN_KEY).await["stats"]["latency"].clone();
    assert_eq!(latency["calls"], 3, "{latency}");
    let (p50, p99, max) =
        (latency["p50_us"].as_u64().unwrap(), latency["p99_us"].as_u64().unwrap(), latency["max_us"].as_u64().unwrap());
    assert!(0 < p50 && p50 <= p99 && p99 <= max, "{latency}");
}
