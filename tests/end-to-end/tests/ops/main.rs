//! Operations end to end: `/metrics` moves as turns and tool calls happen, Sentry receives an
//! upstream failure (release, environment, Anthropic's request id, the user's id and nothing
//! secret), and the logs of a whole turn carry its request id and no secret.
//!
//! The service runs in-process against the stand-ins (Anthropic, Sentry) over real HTTP, with real
//! plugins. The metrics recorder, the Sentry client and the log subscriber are process-wide, so the
//! tests of this binary run one at a time ([`serial`]).
//!
//! That production start-up refuses a missing required variable, naming it, is tested on the real
//! binary in `host/tests/process.rs` (`production_refuses_a_bad_configuration_naming_every_variable`).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use end_to_end::clock_window::{Window, within_one_window};
use end_to_end::plugins::PluginsDir;
use end_to_end::poll::poll_until;
use end_to_end::server::{TEST_AUTH_SECRET, TestServer, as_test_user, test_config};
use end_to_end::sse_client::{SseTranscript, read_stream};
use serde_json::{Value, json};
use stand_ins::anthropic::{Reply, StandIn};
use stand_ins::clerk::mint_mobile;
use stand_ins::sentry::SentryStandIn;
use store::Backend;
use store::testing::TestDatabase;

const ANTHROPIC_KEY: &str = "sk-ant-api03-ops-suite-anthropic-key-0001";
const OPENAI_KEY: &str = "sk-proj-ops-suite-openai-key-00000001";
const INTERNAL_KEY: &str = "ops-suite-internal-key-0001";
const ADMIN_KEY: &str = "ops-suite-admin-key-000000000000000001";
const METRICS_TOKEN: &str = "ops-suite-metrics-token-0001";
const JWT_SECRET: &str = "ops-suite-jwt-secret-0123456789abcdef";
/// Anthropic's `request-id` of the scripted failures.
const ANTHROPIC_REQUEST_ID: &str = "req_011OpsSuiteFailure0001";
/// How long a test waits for what the service signals (a stream closed, a turn ended): far more
/// than a loaded machine needs, since a passing test never waits that long.
const PATIENCE: Duration = Duration::from_secs(30);

/// Takes the process-wide lock every test of this binary holds, and installs the log capture.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let guard = SERIAL.lock().await;
    LazyLock::force(&LOGS);
    guard
}

/// Everything the service logged, in the production format (JSON lines).
static LOGS: LazyLock<Capture> = LazyLock::new(|| {
    let capture = Capture::default();
    // The production layers: JSON, and Sentry's (inert until a client is bound).
    let config = test_config(&[("LOG_JSON", "true"), ("SENTRY_DSN", "http://key@127.0.0.1:9/1")]).unwrap();
    host::telemetry::logs::init_logging_to(&config, capture.clone());
    capture
});

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.0.lock().unwrap())).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Capture {
    type Writer = Capture;

    fn make_writer(&'w self) -> Capture {
        self.clone()
    }
}

/// The service with real plugins (`echo`, and `panic`, whose `explode` traps), wired to a scripted
/// Anthropic stand-in, with a real secret in every secret variable.
struct Ops {
    anthropic: StandIn,
    server: TestServer,
    _plugins: PluginsDir,
}

impl Ops {
    async fn start(extra: &[(&str, &str)]) -> Ops {
        let anthropic = StandIn::start().await;
        let plugins = PluginsDir::new();
        plugins.add("echo");
        plugins.add("panic");
        let db = TestDatabase::new(Backend::Sqlite).await.expect("test database");
        let url = anthropic.url();
        let dir = plugins.path().to_string_lossy().into_owned();
        let mut vars = secret_vars(&url);
        vars.push(("PLUGINS_DIR", dir.as_str()));
        vars.extend_from_slice(extra);
        let server = TestServer::start(&vars, db).await.expect("server starts");
        Ops { anthropic, server, _plugins: plugins }
    }

    /// A turn as `user`, authenticated with a mobile pairing token (a bearer JWT).
    async fn chat(&self, user: &str, message: &str) -> SseTranscript {
        let token = mint_mobile(JWT_SECRET, user, json!({}));
        let request = self
            .server
            .client()
            .post(self.server.url("/chat/stream"))
            .bearer_auth(token)
            .json(&json!({"message": message}));
        read_stream(request, Duration::from_secs(30)).await.expect("stream reads")
    }

    /// Waits until the service has closed every SSE stream (dropped its body). The count signals
    /// nothing when it changes, so it is polled.
    async fn every_stream_closed(&self) {
        let connections = &self.server.state.sse_connections;
        poll_until(PATIENCE, "every SSE stream closing", async || match connections.active() {
            0 => Ok(()),
            open => Err(format!("{open} open")),
        })
        .await
    }

    async fn metrics(&self) -> Metrics {
        let response =
            self.server.client().get(self.server.url("/metrics")).bearer_auth(METRICS_TOKEN).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        Metrics::parse(&response.text().await.unwrap())
    }
}

/// The variables of a service holding real-looking secrets.
fn secret_vars(anthropic_url: &str) -> Vec<(&str, &str)> {
    vec![
        ("ANTHROPIC_BASE_URL", anthropic_url),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
        ("ANTHROPIC_RETRY_BASE_SECONDS", "0.01"),
        ("OPENAI_API_KEY", OPENAI_KEY),
        ("INTERNAL_API_KEY", INTERNAL_KEY),
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("METRICS_TOKEN", METRICS_TOKEN),
        ("JWT_SECRET", JWT_SECRET),
    ]
}

/// A scrape of `/metrics`: samples by series (`name{label="value",…}`, labels sorted), and the
/// `# TYPE` of each metric.
struct Metrics {
    samples: HashMap<String, f64>,
    types: HashMap<String, String>,
}

impl Metrics {
    fn parse(text: &str) -> Metrics {
        let mut samples = HashMap::new();
        let mut types = HashMap::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
                types.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {line:?}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
            let (name, labels) = match series.split_once('{') {
                None => (series, BTreeMap::new()),
                Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}').expect("closing brace"))),
            };
            samples.insert(series_key(name, &labels), value);
        }
        Metrics { samples, types }
    }

    /// The value of one series (0 when absent: a counter not incremented yet).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples.get(&series_key(name, &labels)).copied().unwrap_or(0.0)
    }

    fn kind(&self, name: &str) -> Option<&str> {
        self.types.get(name).map(String::as_str)
    }

    fn series_of(&self, name: &str) -> Vec<&String> {
        self.samples.keys().filter(|k| k.starts_with(&format!("{name}{{")) || *k == name).collect()
    }
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let end = after.find('"').expect("closing quote");
        labels.insert(name.trim_start_matches(',').to_string(), after[..end].to_string());
        rest = &after[end + 1..];
    }
    labels
}

fn series_key(name: &str, labels: &BTreeMap<String, String>) -> String {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_turns_tool_calls_failures_and_requests() {
    // One turn is refused by the monthly quota.
    within_one_window(Window::Month, metrics_move_within_one_month).await
}

async fn metrics_move_within_one_month() {
    let _serial = serial().await;
    let ops = Ops::start(&[("RATE_LIMIT_FREE", "2")]).await;
    let client = ops.server.client();

    // The route takes its own token, as Prometheus sends it; no other key of the service opens it.
    let url = ops.server.url("/metrics");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(client.get(&url).header("X-Internal-Key", INTERNAL_KEY).send().await.unwrap().status(), 401);
    for other in ["wrong", INTERNAL_KEY, ADMIN_KEY] {
        assert_eq!(client.get(&url).bearer_auth(other).send().await.unwrap().status(), 403, "{other}");
    }
    assert_eq!(client.get(&url).bearer_auth(METRICS_TOKEN).send().await.unwrap().status(), 200);
    // And the token opens nothing else.
    let admin = client.get(ops.server.url("/admin/plugins")).bearer_auth(METRICS_TOKEN).send().await.unwrap();
    assert_eq!(admin.status(), 403);

    let before = ops.metrics().await;
    // A successful turn with two tool calls: echo answers, explode traps.
    ops.anthropic.push(Reply::tool_use("toolu_echo", "echo", r#"{"text":"hi"}"#).and_tool_use(
        "toolu_boom",
        "explode",
        "{}",
    ));
    ops.anthropic.push(Reply::text("One worked, one did not.").usage(100, 20).cache_tokens(7, 30));
    let t = ops.chat("user_metrics_1", "use both tools").await;
    assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.names());
    let results: Vec<Value> = t
        .all("function_result")
        .iter()
        .map(|e| serde_json::from_str(e.data["result"].as_str().unwrap()).unwrap())
        .collect();
    assert!(results.iter().any(|r| r["code"] == "plugin_trap"), "{results:?}");
    // An upstream failure.
    ops.anthropic.push(Reply::status(400).header("request-id", ANTHROPIC_REQUEST_ID));
    let t = ops.chat("user_metrics_1", "fail upstream").await;
    assert_eq!(t.names().last(), Some(&"error"));
    // The quota (2 a month) is used up: the refused turn is a quota rejection. (The failed turn
    // gave its unit back, so this user needs one more turn first.)
    ops.anthropic.push(Reply::text("ok"));
    ops.chat("user_metrics_1", "one more").await;
    let t = ops.chat("user_metrics_1", "over the limit").await;
    assert_eq!(t.first("error").unwrap().data["type"], "rate_limit_exceeded");
    // A routed path with an id, and a path no route matches.
    let session = uuid::Uuid::new_v4();
    as_test_user(client.get(ops.server.url(&format!("/chat/sessions/{session}/messages"))), "user_metrics_1")
        .send()
        .await
        .unwrap();
    client.get(ops.server.url("/no/such/route")).send().await.unwrap();

    // A stream is uncounted when the server drops its body, a moment after the client read the end;
    // a turn is counted when its task ends.
    ops.every_stream_closed().await;
    ops.server.turns_finished(PATIENCE).await;
    let after = ops.metrics().await;
    let delta = |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);

    assert_eq!(delta("chat_turns_started_total", &[]), 4.0);
    assert_eq!(delta("chat_turns_finished_total", &[]), 2.0);
    assert_eq!(delta("chat_turns_failed_total", &[("reason", "upstream_error")]), 1.0);
    assert_eq!(delta("chat_turns_failed_total", &[("reason", "quota_exceeded")]), 1.0);
    assert_eq!(delta("chat_quota_rejections_total", &[]), 1.0);
    assert_eq!(delta("chat_turn_duration_seconds_count", &[("outcome", "finished")]), 2.0);

    assert_eq!(delta("chat_claude_calls_total", &[("outcome", "ok")]), 3.0);
    assert_eq!(delta("chat_claude_calls_total", &[("outcome", "api_error")]), 1.0);
    assert_eq!(delta("chat_claude_call_duration_seconds_count", &[("outcome", "ok")]), 3.0);
    assert_eq!(delta("chat_claude_call_duration_seconds_count", &[("outcome", "error")]), 1.0);
    assert!(delta("chat_tokens_total", &[("kind", "input")]) >= 100.0);
    assert!(delta("chat_tokens_total", &[("kind", "output")]) >= 20.0);
    assert_eq!(delta("chat_tokens_total", &[("kind", "cache_read")]), 30.0);
    assert_eq!(delta("chat_tokens_total", &[("kind", "cache_creation")]), 7.0);

    let echo = [("plugin", "echo"), ("function", "echo")];
    let boom = [("plugin", "panic"), ("function", "explode")];
    assert_eq!(delta("tool_calls_total", &[echo[0], echo[1], ("outcome", "ok"), ("via", "chat")]), 1.0);
    assert_eq!(delta("tool_calls_total", &[boom[0], boom[1], ("outcome", "plugin_trap"), ("via", "chat")]), 1.0);
    assert_eq!(delta("tool_call_duration_seconds_count", &echo), 1.0);
    assert_eq!(delta("tool_call_duration_seconds_count", &boom), 1.0);
    assert_eq!(delta("tool_call_fuel_consumed_count", &echo), 1.0);
    assert!(delta("tool_call_fuel_consumed_sum", &echo) > 0.0);
    assert!(after.get("plugin_reloads_total", &[("plugin", "echo"), ("outcome", "loaded")]) >= 1.0);

    let stream = [("method", "POST"), ("route", "/chat/stream")];
    assert_eq!(delta("http_requests_total", &[stream[0], stream[1], ("status", "200")]), 4.0);
    assert_eq!(delta("http_request_duration_seconds_count", &stream), 4.0);
    let messages = [("method", "GET"), ("route", "/chat/sessions/{session_id}/messages"), ("status", "404")];
    assert_eq!(delta("http_requests_total", &messages), 1.0);
    assert_eq!(delta("http_requests_total", &[("method", "GET"), ("route", "unmatched"), ("status", "404")]), 1.0);
    let raw_paths: Vec<&String> =
        after.series_of("http_requests_total").into_iter().filter(|s| s.contains(&session.to_string())).collect();
    assert!(raw_paths.is_empty(), "a raw path became a label: {raw_paths:?}");

    // Every stream closed; histograms render as histograms (buckets), not summaries.
    assert_eq!(after.get("chat_sse_connections_active", &[]), 0.0);
    assert!(after.kind("chat_sse_connections_active") == Some("gauge"));
    for histogram in [
        "http_request_duration_seconds",
        "chat_turn_duration_seconds",
        "chat_claude_call_duration_seconds",
        "tool_call_duration_seconds",
        "tool_call_fuel_consumed",
    ] {
        assert_eq!(after.kind(histogram), Some("histogram"), "{histogram}");
    }
    assert_eq!(delta("tool_call_duration_seconds_bucket", &[echo[0], echo[1], ("le", "+Inf")]), 1.0);
    assert_eq!(
        after.get("chat_api_build_info", &[("version", env!("CARGO_PKG_VERSION")), ("release", "unknown")]),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_switched_off() {
    let _serial = serial().await;
    let ops = Ops::start(&[("METRICS_ENABLED", "false")]).await;
    let response = ops.server.client().get(ops.server.url("/metrics")).bearer_auth(METRICS_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_metrics_are_open_on_a_developer_machine_and_closed_when_deployed() {
    let _serial = serial().await;
    let local = Ops::start(&[("METRICS_TOKEN", "")]).await;
    let response = local.server.client().get(local.server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200, "development and test need no token");
    let staging = Ops::start(&[("METRICS_TOKEN", ""), ("ENVIRONMENT", "staging")]).await;
    let response = staging.server.client().get(staging.server.url("/metrics")).bearer_auth("anything").send().await;
    let (status, body) = end_to_end::server::read_json(response.unwrap()).await;
    assert_eq!((status.as_u16(), body["detail"].as_str()), (503, Some("Metrics token not configured")));
}

/// The strings that must never leave the process.
fn secrets<'a>(token: &'a str, message: &'a str) -> [(&'static str, &'a str); 9] {
    [
        ("the Anthropic key", ANTHROPIC_KEY),
        ("the OpenAI key", OPENAI_KEY),
        ("the internal key", INTERNAL_KEY),
        ("the admin key", ADMIN_KEY),
        ("the metrics token", METRICS_TOKEN),
        ("the JWT secret", JWT_SECRET),
        ("the test-auth secret", TEST_AUTH_SECRET),
        ("the bearer token", token),
        ("the user's message", message),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentry_receives_an_upstream_failure_with_release_environment_and_request_id_and_no_secret() {
    let _serial = serial().await;
    let sentry = SentryStandIn::start().await;
    let dsn = sentry.dsn();
    let telemetry =
        [("SENTRY_DSN", dsn.as_str()), ("RENDER_GIT_COMMIT", "0a1b2c3d"), ("SENTRY_TRACES_SAMPLE_RATE", "1")];
    // As `main` does: the client first, with the service's own configuration, so that every
    // thread of the runtime inherits it.
    let mut vars = secret_vars("http://127.0.0.1:1");
    vars.extend_from_slice(&telemetry);
    let guard = host::telemetry::sentry::init(&test_config(&vars).unwrap()).expect("a DSN is set");
    let ops = Ops::start(&telemetry).await;

    let user = "user_sentry_1";
    let message = "my private note: zebra quokka 7781";
    let token = mint_mobile(JWT_SECRET, user, json!({}));
    ops.anthropic.push(
        Reply::status(401)
            .error_message(format!("invalid x-api-key {ANTHROPIC_KEY}"))
            .header("request-id", ANTHROPIC_REQUEST_ID),
    );
    let t = ops.chat(user, message).await;
    assert_eq!(t.first("error").unwrap().data["type"], "api_error");
    let request_id = t.header("x-request-id").expect("x-request-id").to_string();

    let event = sentry.wait_for_event(Duration::from_secs(10), |e| e["tags"]["anthropic_request_id"].is_string()).await;
    assert_eq!(event["tags"]["anthropic_request_id"], ANTHROPIC_REQUEST_ID);
    assert_eq!(event["tags"]["request_id"], request_id.as_str(), "{event:#}");
    assert_eq!(event["tags"]["error_kind"], "api_error");
    assert_eq!(event["release"], "0a1b2c3d");
    assert_eq!(event["environment"], "test");
    assert_eq!(event["user"], json!({"id": user}), "only the user's id");
    assert_eq!(event["request"]["method"], "POST");
    let exception = event["exception"]["values"][0]["value"].as_str().unwrap_or_default();
    assert!(exception.contains("authentication_error"), "{event:#}");

    // Flush the rest (the request's transaction, traced at rate 1 here) before looking for secrets.
    drop(guard);
    let envelopes = sentry.envelopes();
    assert!(envelopes.iter().any(|e| e.items.iter().any(|i| i.kind() == "transaction")), "a transaction was sent");
    for envelope in &envelopes {
        for (what, secret) in secrets(&token, message) {
            assert!(!envelope.raw.contains(secret), "{what} was sent to Sentry:\n{}", envelope.raw);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_the_request_id_through_the_turn_and_never_a_secret() {
    let _serial = serial().await;
    let ops = Ops::start(&[]).await;
    LOGS.take();

    let user = "user_logs_1";
    let message = "my private note: walrus heron 4412";
    let token = mint_mobile(JWT_SECRET, user, json!({}));
    // A tool call that traps, then Anthropic fails (and echoes the key in its message).
    ops.anthropic.push(Reply::tool_use("toolu_boom", "explode", "{}"));
    ops.anthropic.push(
        Reply::status(401)
            .error_message(format!("invalid x-api-key {ANTHROPIC_KEY}"))
            .header("request-id", ANTHROPIC_REQUEST_ID),
    );
    let t = ops.chat(user, message).await;
    assert_eq!(t.names().last(), Some(&"error"));
    // Without OTEL_EXPORTER_OTLP_ENDPOINT nothing is traced: no trace_id, no traceparent upstream.
    let start = t.first("message_start").expect("message_start");
    assert!(start.data.get("trace_id").is_none(), "{:?}", start.data);
    assert!(ops.anthropic.requests().iter().all(|r| r.header("traceparent").is_none()));
    let request_id = t.header("x-request-id").expect("x-request-id").to_string();
    // The turn's last line is written after its last event, once the client has read it.
    ops.server.turns_finished(PATIENCE).await;
    let text = LOGS.take();

    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}")))
        .collect();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["spans"].as_array().is_some_and(|spans| spans.iter().any(|s| s["request_id"] == request_id.as_str()))
        })
        .collect();
    let find = |message: &str, also: &dyn Fn(&Value) -> bool| {
        of_request
            .iter()
            .find(|l| l["message"] == message && also(l))
            .unwrap_or_else(|| panic!("no {message:?} line with request id {request_id}:\n{text}"))
    };
    let any = |_: &Value| true;
    // The request, the turn's task, the tool call and the upstream call all name the request.
    let access = find("finished processing request", &any);
    assert_eq!(access["spans"][0]["route"], "/chat/stream");
    assert_eq!(access["spans"][0]["user_id"], user);
    // The tool runtime's own line, written inside the call.
    let tool = find("tool call failed", &|l| l["code"] == "plugin_trap");
    let span_names: Vec<&str> = tool["spans"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(span_names, ["turn", "tool_call"]);
    let upstream = find("anthropic responded", &|l| l["status"] == 401);
    assert_eq!(upstream["anthropic_request_id"], ANTHROPIC_REQUEST_ID);
    let finished = find("turn finished", &any);
    assert_eq!(finished["outcome"], "upstream_error");
    assert_eq!(finished["spans"][0]["user_id"], user);
    assert!(finished["spans"][0]["session_id"].is_string());

    for (what, secret) in secrets(&token, message) {
        assert!(!text.contains(secret), "{what} was logged:\n{text}");
    }
}
