//! OpenTelemetry end to end: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, a chat turn that calls a tool
//! reaches a loopback OTLP/HTTP receiver as one trace (`request` → `turn` → `llm_call` and
//! `tool_call` → `egress`, with their attributes), `message_start.trace_id` names that trace, a
//! client's `traceparent` makes the turn part of the client's trace, and Anthropic and the
//! plugin's service receive a `traceparent` of the same trace. That `trace_id` is absent without
//! export is checked in the ops suite (`logs_carry_the_request_id_through_the_turn_and_never_a_secret`).
//!
//! The subscriber is process-wide, so one receiver, on a runtime of its own, serves every test of
//! this binary; each test looks only at its own trace. Spans arrive when the batch exporter
//! flushes: tests wait on the receiver's recorded requests, never on a clock.

use std::sync::LazyLock;
use std::time::Duration;

use end_to_end::plugins::PluginsDir;
use end_to_end::server::{TestServer, as_test_user, test_config};
use end_to_end::sse_client::{SseTranscript, read_stream};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use serde_json::json;
use stand_ins::anthropic::{Reply, StandIn};
use stand_ins::downstream::{Downstream, Service};
use stand_ins::recording_server::{RecordedRequest, RecordingServer, reply};
use store::testing::TestDatabase;

const SERVICE_NAME: &str = "amakaflow-chat-tracing-suite";
/// How long a test waits for spans and streams: far more than a loaded machine needs (the batch
/// exporter sends every five seconds); a passing test never waits that long.
const PATIENCE: Duration = Duration::from_secs(60);

/// The OTLP/HTTP receiver every test's spans go to, and the subscriber exporting to it, installed
/// once for the process.
static RECEIVER: LazyLock<RecordingServer> = LazyLock::new(|| {
    let (tx, rx) = std::sync::mpsc::channel();
    // Its own runtime: each test's runtime ends with the test, the receiver must outlive them all.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let server = RecordingServer::start(|request: RecordedRequest| async move {
                match (request.method.as_str(), request.path.as_str()) {
                    // An empty ExportTraceServiceResponse: everything accepted.
                    ("POST", "/v1/traces") => reply::bytes(200, "application/x-protobuf", Vec::new()),
                    _ => reply::json(404, json!({"error": "not an OTLP path"})),
                }
            })
            .await;
            tx.send(server).unwrap();
            std::future::pending::<()>().await
        });
    });
    let server = rx.recv().expect("the OTLP receiver starts");
    let endpoint = server.url();
    let config = test_config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", SERVICE_NAME),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=tracing-suite-collector-key"),
    ])
    .unwrap();
    host::telemetry::logs::init_logging_to(&config, std::io::sink);
    server
});

/// One exported span, decoded.
#[derive(Clone, Debug)]
struct ExportedSpan {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: Vec<KeyValue>,
    service_name: Option<String>,
}

impl ExportedSpan {
    fn attribute(&self, key: &str) -> Option<AnyValue> {
        self.attributes.iter().find(|kv| kv.key == key)?.value.clone()?.value
    }

    fn text(&self, key: &str) -> Option<String> {
        match self.attribute(key)? {
            AnyValue::StringValue(text) => Some(text),
            _ => None,
        }
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.attribute(key)? {
            AnyValue::IntValue(n) => Some(n),
            _ => None,
        }
    }
}

/// Every span the receiver got so far, decoded (a body that is no ExportTraceServiceRequest fails
/// the test).
fn exported(requests: &[RecordedRequest]) -> Vec<ExportedSpan> {
    let mut spans = Vec::new();
    for request in requests.iter().filter(|r| r.path == "/v1/traces") {
        assert_eq!(request.header("content-type"), Some("application/x-protobuf"));
        assert_eq!(request.header("x-collector-key"), Some("tracing-suite-collector-key"));
        let export = ExportTraceServiceRequest::decode(request.body.clone()).expect("an OTLP protobuf body");
        for resource_spans in export.resource_spans {
            let service_name = resource_spans.resource.as_ref().and_then(|resource| {
                let kv = resource.attributes.iter().find(|kv| kv.key == "service.name")?;
                match kv.value.clone()?.value? {
                    AnyValue::StringValue(name) => Some(name),
                    _ => None,
                }
            });
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    spans.push(ExportedSpan {
                        name: span.name,
                        trace_id: hex::encode(span.trace_id),
                        span_id: hex::encode(span.span_id),
                        parent_span_id: hex::encode(span.parent_span_id),
                        attributes: span.attributes,
                        service_name: service_name.clone(),
                    });
                }
            }
        }
    }
    spans
}

/// Waits until the spans of `trace_id` include every name in `names`, and returns that trace.
async fn trace(trace_id: &str, names: &[&str]) -> Vec<ExportedSpan> {
    RECEIVER
        .wait_until(PATIENCE, &format!("the spans {names:?} of trace {trace_id}"), |requests| {
            let spans: Vec<ExportedSpan> =
                exported(requests).into_iter().filter(|span| span.trace_id == trace_id).collect();
            names.iter().all(|name| spans.iter().any(|span| span.name == *name)).then_some(spans)
        })
        .await
}

fn one<'a>(spans: &'a [ExportedSpan], name: &str) -> &'a ExportedSpan {
    let found: Vec<&ExportedSpan> = spans.iter().filter(|span| span.name == name).collect();
    assert_eq!(found.len(), 1, "one {name} span: {spans:#?}");
    found[0]
}

/// The service with the calendar plugin, wired to a scripted Anthropic and the calendar stand-in.
struct World {
    anthropic: StandIn,
    calendar: Downstream,
    server: TestServer,
    _plugins: PluginsDir,
}

impl World {
    async fn start() -> World {
        LazyLock::force(&RECEIVER);
        let anthropic = StandIn::start().await;
        let calendar = Downstream::start(Service::Calendar).await;
        let plugins = PluginsDir::new();
        plugins.add("calendar");
        let (anthropic_url, calendar_url) = (anthropic.url(), calendar.url());
        let plugins_dir = plugins.path().to_string_lossy().into_owned();
        let cache = std::env::temp_dir().join("amakaflow-tools-suite-cache").to_string_lossy().into_owned();
        let endpoint = RECEIVER.url();
        let db = TestDatabase::sqlite().await.expect("database");
        let server = TestServer::start(
            &[
                ("ANTHROPIC_BASE_URL", anthropic_url.as_str()),
                ("ANTHROPIC_API_KEY", "sk-ant-tracing-suite"),
                ("CALENDAR_API_URL", calendar_url.as_str()),
                ("PLUGINS_DIR", plugins_dir.as_str()),
                ("PLUGIN_CACHE_DIR", cache.as_str()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ],
            db,
        )
        .await
        .expect("server starts");
        server.state.tools.wait_ready().await;
        World { anthropic, calendar, server, _plugins: plugins }
    }

    /// Claude schedules a workout through the calendar plugin, then answers.
    fn script_a_tool_turn(&self) {
        self.anthropic.push(Reply::tool_use(
            "toolu_schedule",
            "add_workout_to_calendar",
            r#"{"workout_id": "w-legs", "date": "2026-03-02", "time": "06:30"}"#,
        ));
        self.anthropic.push(Reply::text("Done."));
    }

    async fn chat(&self, user: &str, traceparent: Option<&str>) -> SseTranscript {
        let mut request = as_test_user(self.server.client().post(self.server.url("/chat/stream")), user)
            .json(&json!({"message": "Schedule my leg day for Monday 6:30"}));
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        let t = read_stream(request, PATIENCE).await.expect("stream");
        assert_eq!(t.status, 200);
        t
    }
}

fn trace_id_of(t: &SseTranscript) -> Option<String> {
    let start = t.first("message_start").expect("message_start");
    start.data.get("trace_id").map(|id| id.as_str().expect("a string trace_id").to_string())
}

/// `00-<trace>-<span>-<flags>`, split.
fn traceparent_parts(value: &str) -> (String, String, String) {
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "a W3C traceparent: {value}");
    assert_eq!(parts[0], "00", "{value}");
    (parts[1].to_string(), parts[2].to_string(), parts[3].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_turn_is_exported_as_one_trace_named_in_message_start() {
    let world = World::start().await;
    world.script_a_tool_turn();
    let t = world.chat("user_trace_1", None).await;
    assert_eq!(t.shape(), ["message_start", "function_call", "function_result", "content_delta", "message_end"]);
    let trace_id = trace_id_of(&t).expect("message_start carries trace_id while tracing is on");
    assert_eq!(trace_id.len(), 32, "{trace_id}");
    assert!(trace_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{trace_id}");

    let spans = trace(&trace_id, &["request", "turn", "llm_call", "tool_call", "egress"]).await;
    let request = one(&spans, "request");
    let turn = one(&spans, "turn");
    let tool_call = one(&spans, "tool_call");
    let egress = one(&spans, "egress");
    let llm_calls: Vec<&ExportedSpan> = spans.iter().filter(|span| span.name == "llm_call").collect();

    // Parent links: request → turn → (Claude calls, tool call → its request).
    assert_eq!(request.parent_span_id, "", "the request starts the trace");
    assert_eq!(turn.parent_span_id, request.span_id);
    assert_eq!(tool_call.parent_span_id, turn.span_id);
    assert_eq!(egress.parent_span_id, tool_call.span_id);
    for llm_call in &llm_calls {
        assert_eq!(llm_call.parent_span_id, turn.span_id);
    }

    // Attributes.
    assert_eq!(request.text("route").as_deref(), Some("/chat/stream"));
    assert_eq!(request.text("method").as_deref(), Some("POST"));
    assert_eq!(turn.text("user_id").as_deref(), Some("user_trace_1"));
    assert_eq!(request.service_name.as_deref(), Some(SERVICE_NAME));
    assert_eq!(tool_call.text("function").as_deref(), Some("add_workout_to_calendar"));
    assert_eq!(tool_call.text("plugin").as_deref(), Some("calendar"));
    assert_eq!(tool_call.text("outcome").as_deref(), Some("ok"));
    assert!(tool_call.int("fuel").is_some_and(|fuel| fuel > 0), "fuel on the tool call: {tool_call:#?}");
    assert_eq!(egress.text("method").as_deref(), Some("POST"));
    assert_eq!(egress.text("host").as_deref(), Some("127.0.0.1"));
    assert_eq!(egress.int("port"), Some(i64::from(world.calendar.port())));
    let model = world.server.state.config.anthropic.model.clone();
    for llm_call in &llm_calls {
        assert_eq!(llm_call.text("provider").as_deref(), Some("anthropic"));
        assert_eq!(llm_call.text("model"), Some(model.clone()));
        assert_eq!(llm_call.text("outcome").as_deref(), Some("ok"));
    }

    // Propagation: each Claude request carries its call's span, the plugin's request its own.
    let claude_requests = world.anthropic.requests();
    assert_eq!(claude_requests.len(), 2);
    let mut claude_parents = Vec::new();
    for claude_request in &claude_requests {
        let (trace, parent, flags) = traceparent_parts(claude_request.header("traceparent").expect("traceparent"));
        assert_eq!((trace.as_str(), flags.as_str()), (trace_id.as_str(), "01"));
        claude_parents.push(parent);
    }
    let mut llm_span_ids: Vec<String> = llm_calls.iter().map(|span| span.span_id.clone()).collect();
    llm_span_ids.sort();
    claude_parents.sort();
    assert_eq!(claude_parents, llm_span_ids, "each Claude request names its llm_call span");
    let scheduled = world.calendar.requests();
    assert_eq!(scheduled.len(), 1);
    let (trace, parent, flags) = traceparent_parts(scheduled[0].header("traceparent").expect("traceparent"));
    assert_eq!((trace, parent, flags), (trace_id.clone(), egress.span_id.clone(), "01".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_traceparent_makes_the_turn_part_of_its_trace() {
    let world = World::start().await;
    world.script_a_tool_turn();
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let t = world.chat("user_trace_2", Some(&format!("00-{client_trace}-{client_span}-01"))).await;
    assert_eq!(trace_id_of(&t).as_deref(), Some(client_trace));

    let spans = trace(client_trace, &["request", "turn", "tool_call", "egress"]).await;
    let request = one(&spans, "request");
    assert_eq!(request.parent_span_id, client_span, "the request is the client's span's child");
    assert_eq!(one(&spans, "turn").parent_span_id, request.span_id);
    let scheduled = world.calendar.requests();
    let (trace, ..) = traceparent_parts(scheduled[0].header("traceparent").expect("traceparent"));
    assert_eq!(trace, client_trace, "the plugin's request continues the client's trace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsampled_client_trace_is_not_recorded_and_gets_no_trace_id() {
    let world = World::start().await;
    world.anthropic.push(Reply::text("Hello."));
    let client_trace = "0af7651916cd43dd8448eb211c80319c";
    let t = world.chat("user_trace_3", Some(&format!("00-{client_trace}-b7ad6b7169203331-00"))).await;
    assert_eq!(t.shape(), ["message_start", "content_delta", "message_end"]);
    assert_eq!(
        trace_id_of(&t),
        None,
        "no trace_id while the turn's span is not recording: {:?}",
        t.first("message_start")
    );
    // The decision travels on: Anthropic hears the same trace, not sampled.
    let claude = world.anthropic.requests();
    let (trace, _, flags) = traceparent_parts(claude[0].header("traceparent").expect("traceparent"));
    assert_eq!((trace.as_str(), flags.as_str()), (client_trace, "00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_client_traceparent_starts_a_fresh_trace() {
    let world = World::start().await;
    for (i, bad) in ["not-a-traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-xyz"]
        .into_iter()
        .enumerate()
    {
        world.anthropic.push(Reply::text("Hello."));
        let t = world.chat(&format!("user_trace_bad_{i}"), Some(bad)).await;
        assert_eq!(t.shape(), ["message_start", "content_delta", "message_end"], "{bad}");
        let trace_id = trace_id_of(&t).expect("a fresh, recorded trace");
        assert_ne!(trace_id, "00000000000000000000000000000000");
        let spans = trace(&trace_id, &["request", "turn"]).await;
        assert_eq!(one(&spans, "request").parent_span_id, "", "{bad}: the request starts its own trace");
    }
}
