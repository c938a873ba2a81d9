//! The development chat page: served only in development (with the public default JWT secret),
//! and, driven in Debian's headless Chromium over WebDriver (chromedriver's W3C HTTP API, through
//! reqwest), it signs in, streams a chat with a tool call from the offline dev stack and shows it.
//!
//! The operator console is driven the same way (`console`).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`apt-get install chromium
//! chromium-driver`; `.ci/run` installs them).

mod console;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use end_to_end::poll::poll_until;
use end_to_end::server::TestServer;
use host::api::dev_page::DEV_USER;
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::testing::TestDatabase;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

async fn server(overrides: &[(&str, &str)]) -> TestServer {
    let db = TestDatabase::sqlite().await.expect("a SQLite test database");
    TestServer::start(overrides, db).await.expect("the service starts")
}

/// The statuses of `/` and `/dev/token`.
async fn dev_routes(server: &TestServer) -> (StatusCode, StatusCode) {
    let page = server.client().get(server.url("/")).send().await.unwrap().status();
    let token = server.client().get(server.url("/dev/token")).send().await.unwrap().status();
    (page, token)
}

#[tokio::test]
async fn development_serves_the_page_and_a_token_that_signs_in() {
    let server = server(&[("ENVIRONMENT", "development")]).await;
    let page = server.client().get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("/chat/stream"));

    let body: Value = server.client().get(server.url("/dev/token")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["user_id"], DEV_USER);
    let token = body["token"].as_str().unwrap();
    let sessions = server.client().get(server.url("/chat/sessions")).bearer_auth(token).send().await.unwrap();
    assert_eq!(sessions.status(), StatusCode::OK, "the development token authenticates");
}

#[tokio::test]
async fn no_page_or_token_in_staging_test_or_with_a_real_secret() {
    let real_secret = [("ENVIRONMENT", "development"), ("JWT_SECRET", "0123456789abcdef0123456789abcdef")];
    // Production (render.yaml's configuration) is tested in tests/tests/deploy.rs.
    for overrides in [&[("ENVIRONMENT", "staging")][..], &[("ENVIRONMENT", "test")], &real_secret] {
        let server = server(overrides).await;
        assert_eq!(dev_routes(&server).await, (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND), "{overrides:?}");
    }
}

/// chromedriver on a free port with one headless Chromium session (its own temporary profile).
/// Dropping it closes both.
struct Browser {
    driver: Child,
    url: String,
    http: reqwest::Client,
    profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(binary).exists(),
                "{binary} is missing: apt-get install -y chromium chromium-driver (.ci/run does)"
            );
        }
        // On a port of its own choosing, which it names in the line saying it is ready.
        let driver = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let profile = tempfile::tempdir().unwrap();
        // Owned by the browser from here on, so that a failed start still stops it.
        let mut browser = Browser { driver, url: String::new(), http, profile };
        let port = listening_port(browser.driver.stdout.take().expect("chromedriver's stdout"));
        let port = match tokio::time::timeout(Duration::from_secs(60), port).await {
            Ok(Ok(port)) => port,
            Ok(Err(_)) => panic!("chromedriver exited before it started"),
            Err(_) => panic!("chromedriver did not start within 60 s"),
        };
        browser.url = format!("http://127.0.0.1:{port}");

        let profile_arg = format!("--user-data-dir={}", browser.profile.path().display());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", profile_arg],
            },
        }}});
        let session = browser.command("POST", "/session", capabilities).await;
        let id = session["sessionId"].as_str().expect("a WebDriver session id").to_string();
        browser.url = format!("{}/session/{id}", browser.url);
        browser
    }

    /// One WebDriver command; its `value`. A WebDriver error fails the test with its message.
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.url);
        let request = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body),
        };
        let response = request.send().await.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status();
        let value: Value = response.json().await.expect("a WebDriver JSON answer");
        assert!(status.is_success(), "WebDriver {method} {path}: {status} {value}");
        value["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.command("POST", "/url", json!({"url": url})).await;
    }

    /// The element matching `css`.
    async fn element(&self, css: &str) -> String {
        let found = self.command("POST", "/element", json!({"using": "css selector", "value": css})).await;
        // The W3C web element identifier.
        let reference = found["element-6066-11e4-a52e-4f735466cecf"].as_str();
        reference.unwrap_or_else(|| panic!("no element reference for {css}: {found}")).to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.command("POST", &format!("/element/{element}/value"), json!({"text": text})).await;
    }

    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.command("POST", &format!("/element/{element}/click"), json!({})).await;
    }

    /// The text of every element matching `css`, in page order.
    async fn texts(&self, css: &str) -> Vec<String> {
        let script = "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);";
        let value = self.command("POST", "/execute/sync", json!({"script": script, "args": [css]})).await;
        serde_json::from_value(value).expect("a list of strings")
    }

    /// Waits until `done` holds for the page's texts of `css` (a page signals nothing to WebDriver,
    /// so it is polled); fails with what the page shows.
    async fn wait_for(&self, css: &str, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        poll_until(Duration::from_secs(60), what, async || {
            let texts = self.texts(css).await;
            if done(&texts) { Ok(texts) } else { Err(format!("the page shows {:?}", self.texts("body").await)) }
        })
        .await
    }
}

/// The port chromedriver names on `stdout` once it listens (`… started successfully on port N.`);
/// the rest of its output is read and dropped until it exits.
fn listening_port(stdout: ChildStdout) -> tokio::sync::oneshot::Receiver<u16> {
    let (port_tx, port) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut port_tx = Some(port_tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let named = line
                .split_once("started successfully on port ")
                .and_then(|(_, p)| p.trim_end_matches('.').parse().ok());
            if let Some(port) = named
                && let Some(tx) = port_tx.take()
            {
                let _ = tx.send(port);
            }
        }
    });
    port
}

/// Closes the browser (deleting the session makes chromedriver quit Chromium, which would outlive a
/// killed chromedriver), then kills chromedriver: at the end of the test and when it fails.
impl Drop for Browser {
    fn drop(&mut self) {
        // A blocking request: Drop cannot await, and a panicking test must not leave Chromium behind.
        if let Some(rest) = self.url.strip_prefix("http://")
            && let Some((host, path)) = rest.split_once('/')
            && let Ok(mut stream) = std::net::TcpStream::connect(host)
        {
            use std::io::{Read, Write};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!("DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        // Our own child, by its handle.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_streams_a_reply_with_a_tool_call_in_headless_chromium() {
    assert_eq!(DEV_USER, dev_stack::DEV_USER, "the page's user is the one the dev stack seeds");
    let data = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", data.path().join("chat.db").display());
    let plugins = end_to_end::plugins::built_plugins();
    let plugins = plugins.to_string_lossy();
    let stack = dev_stack::start_for_test(&[
        ("DATABASE_URL", &database),
        ("PLUGINS_DIR", &plugins),
        ("PLUGINS_WATCH", "false"),
    ])
    .await
    .expect("the offline dev stack starts");
    assert!(stack.state().tools.functions().iter().any(|f| f.name == "search_workout_library"));
    // The stack binds 127.0.0.1 only; `localhost` may resolve to ::1 first in Chromium.
    let page = format!("{}/", stack.base_url.replace("localhost", "127.0.0.1"));

    let browser = Browser::start().await;
    browser.open(&page).await;
    browser.wait_for("#user", "the sign-in", |t| t.first().is_some_and(|u| u == DEV_USER)).await;

    // The scripted stand-in model searches the library for "find …", then summarises the result.
    browser.type_into("#message", "Find me a leg workout").await;
    browser.click("#send").await;
    let replies = browser
        .wait_for(".assistant", "the streamed summary", |t| {
            t.iter().any(|r| r.contains("Here is what the tools returned"))
        })
        .await;
    assert!(replies.iter().all(|r| r.starts_with("[stand-in model]")), "{replies:?}");
    let calls = browser.texts(".tool-call").await;
    assert_eq!(calls, ["→ search_workout_library"], "the call is shown, finished");
    let results = browser.texts(".tool-result").await;
    assert!(results.len() == 1 && results[0].starts_with("← search_workout_library: "), "{results:?}");
    assert!(browser.texts(".error").await.is_empty());

    // The session id to continue with, and the session list refreshed after the turn.
    let session = browser.texts("#session-id").await.remove(0);
    assert!(uuid::Uuid::parse_str(&session).is_ok(), "session id shown: {session}");
    browser.wait_for("#sessions button", "the session list", |t| t.len() == 1).await;
    drop(browser);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_resumes_a_dropped_stream_showing_each_event_once_and_stops_a_reply() {
    use end_to_end::tcp_proxy::TcpProxy;
    use stand_ins::anthropic::{Reply, Split, StandIn};
    use stand_ins::gate::Gate;

    let anthropic = StandIn::start().await;
    let url = anthropic.url();
    let server = server(&[
        ("ENVIRONMENT", "development"),
        ("ANTHROPIC_BASE_URL", url.as_str()),
        ("ANTHROPIC_API_KEY", "sk-ant-x"),
    ])
    .await;
    // The browser reaches the service through a proxy the test can cut, as a phone loses its network.
    let proxy = TcpProxy::start(server.addr).await;
    let browser = Browser::start().await;
    browser.open(&format!("http://{}/", proxy.addr())).await;
    browser.wait_for("#user", "the sign-in", |t| t.first().is_some_and(|u| u == DEV_USER)).await;

    let full = "Resumed after the drop, and every word shown once.";
    let held = Gate::new();
    anthropic.push(Reply::text(full).text_split(Split::Every(5)).hold_after(4, held.clone()));
    browser.type_into("#message", "Tell me something").await;
    browser.click("#send").await;
    browser.wait_for(".assistant", "the first words", |t| t.iter().any(|r| !r.is_empty())).await;
    proxy.cut();
    browser.wait_for(".meta", "the page noticing the drop", |t| t.iter().any(|m| m.contains("resuming"))).await;
    proxy.restore();
    held.open();
    let replies =
        browser.wait_for(".meta", "the end of the resumed reply", |t| t.iter().any(|m| m.contains("tokens"))).await;
    assert_eq!(browser.texts(".assistant").await, [full], "each delta shown once: {replies:?}");
    assert!(browser.texts(".error").await.is_empty());

    // Stop: the reply ends where it was, marked stopped.
    anthropic.push(
        Reply::text("This one is stopped early by the user.").text_split(Split::Every(5)).hold_after(4, Gate::new()),
    );
    browser.type_into("#message", "And another").await;
    browser.click("#send").await;
    browser.wait_for(".assistant", "the second reply's first words", |t| t.len() == 2 && !t[1].is_empty()).await;
    browser.click("#stop").await;
    browser.wait_for(".meta", "the stopped reply", |t| t.iter().any(|m| m.starts_with("stopped"))).await;
    let replies = browser.texts(".assistant").await;
    assert!("This one is stopped early by the user.".starts_with(&replies[1]), "{replies:?}");
    drop(browser);
}
