//! The Prometheus metrics: the one recorder of the process, the buckets of every histogram, the
//! catalogue of every metric the service emits (names, labels, meaning: what `/metrics` shows as
//! `# HELP`), and the HTTP request middleware.
//!
//! Metrics are emitted where things happen (`metrics::counter!` in the turn, the Anthropic client,
//! the tool runtime, the stream tracker); this file is the one place that lists them.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::config::TelemetryConfig;

/// Seconds, 5 ms to 5 min: HTTP handlers, Claude calls, tool calls and whole turns share them so
/// their quantiles can be compared.
const LATENCY_BUCKETS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0];
/// Fuel (about one unit per wasm instruction), up to the default budget of 5·10⁹.
const FUEL_BUCKETS: &[f64] = &[1e4, 1e5, 1e6, 1e7, 1e8, 5e8, 1e9, 2.5e9, 5e9, 1e10];
/// Histograms keep their samples until drained; draining without waiting for a scrape keeps memory
/// flat when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The label of requests no route matched: the raw path is never a label (unbounded cardinality).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Installs the recorder (once per process) and records what this build is.
pub fn install(config: &TelemetryConfig) {
    recorder();
    let release = config.release.clone().unwrap_or_else(|| "unknown".to_string());
    metrics::gauge!("chat_api_build_info", "version" => env!("CARGO_PKG_VERSION"), "release" => release).set(1.0);
}

/// The process-wide recorder, installed on first use (every app of a test process shares it).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("tool_call_fuel_consumed".into()), FUEL_BUCKETS))
                .expect("bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            describe();
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            });
            handle
        })
        .clone()
}

/// Every metric of the service.
fn describe() {
    // Turns that survive (#12).
    super::live_metrics::describe();
    describe_gauge!("chat_api_build_info", "Always 1; labels `version` and `release` (RENDER_GIT_COMMIT).");

    describe_counter!(
        "http_requests_total",
        "HTTP requests by `method`, `route` (the route template, `unmatched` for none) and `status`."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to the response headers by `method` and `route` (for /chat/stream: until the stream opens)."
    );
    describe_gauge!("http_connections_open", "Client connections open now (at most HTTP_MAX_CONNECTIONS).");
    describe_counter!(
        "http_connections_refused_total",
        "Connections closed as soon as they were accepted because HTTP_MAX_CONNECTIONS were open."
    );
    describe_counter!(
        "http_connections_closed_total",
        "Connections the server closed, by `reason`: header_timeout (a request head took longer than \
         HTTP_HEADER_TIMEOUT_SECONDS), idle (HTTP_IDLE_TIMEOUT_SECONDS), slow_client (output left unread for \
         SLOW_CLIENT_TIMEOUT_SECONDS)."
    );
    describe_gauge!("chat_sse_connections_active", "Chat streams open now (runbook: warn at 150, critical at 200).");

    describe_counter!("chat_turns_started_total", "Chat turns started (one per accepted POST /chat/stream).");
    describe_counter!("chat_turns_finished_total", "Chat turns that ended with message_end.");
    describe_counter!(
        "chat_turns_failed_total",
        "Chat turns that ended with an error event, by `reason`: too_many_turns (CONCURRENT_TURNS_PER_USER), \
         feature_disabled, quota_exceeded, session_not_found, internal_error (database), upstream_error, upstream_busy (Anthropic rate limit), \
         shutdown, persist_failed."
    );
    describe_histogram!(
        "chat_turn_duration_seconds",
        Unit::Seconds,
        "Whole turns, pre-flight to last event, by `outcome` (finished, failed)."
    );
    describe_counter!("chat_quota_rejections_total", "Turns refused because the monthly message quota is used up.");

    describe_counter!(
        "chat_claude_calls_total",
        "Claude calls of chat turns (after retries) by `outcome`: ok, or the error kind (rate_limit, \
         spend_limit, overloaded, api_error, connection, timeout, stream_ended, decode, shutdown)."
    );
    describe_histogram!(
        "chat_claude_call_duration_seconds",
        Unit::Seconds,
        "Claude calls of chat turns, first request to last event, retries included, by `outcome` (ok, error)."
    );
    describe_counter!(
        "chat_claude_stop_reasons_total",
        "Completed Claude calls by `reason` (Anthropic's stop_reason)."
    );
    describe_counter!(
        "chat_tokens_total",
        Unit::Count,
        "Claude tokens by `kind`: input, output, cache_read, cache_creation (cache write)."
    );
    describe_counter!(
        "anthropic_retries_total",
        "Anthropic requests retried before any output, by error `kind` (429, 529, 5xx, connection, …)."
    );
    describe_counter!("anthropic_failures_total", "Anthropic requests that failed for good, by error `kind`.");
    // The OpenAI fallback, the circuit breaker and the queue of Claude calls (#15).
    describe_counter!(
        "chat_llm_calls_total",
        "Model calls of chat turns by `provider` (anthropic, openai) and `outcome` (ok, or the error kind)."
    );
    describe_histogram!(
        "chat_llm_call_duration_seconds",
        Unit::Seconds,
        "Model calls of chat turns by `provider` and `outcome` (ok, error)."
    );
    describe_counter!(
        "chat_llm_fallbacks_total",
        "Claude calls made on OpenAI instead, by `reason`: circuit_open, or the Anthropic error kind."
    );
    describe_gauge!("chat_llm_circuit_open", "1 while the circuit in front of Anthropic is open.");
    describe_counter!("chat_llm_circuit_opened_total", "Times the circuit in front of Anthropic opened.");
    describe_histogram!(
        "chat_llm_queue_wait_seconds",
        Unit::Seconds,
        "How long Claude calls waited for a slot (ANTHROPIC_MAX_CONCURRENT_CALLS)."
    );
    describe_gauge!("chat_llm_queue_waiting", "Claude calls waiting for a slot now.");
    describe_counter!(
        "chat_llm_queue_timeouts_total",
        "Claude calls that waited ANTHROPIC_QUEUE_WAIT_SECONDS for a slot in vain."
    );
    describe_counter!(
        "chat_llm_queue_shared_unavailable_total",
        "Claude calls that went on within this instance's bound because Redis could not be asked."
    );

    describe_counter!(
        "tool_calls_total",
        "Tool calls by `plugin`, `function` and `outcome` (ok, timeout, fuel_exhausted, memory_exceeded, \
         egress_denied, plugin_trap, …, an error code the plugin's manifest declares, else plugin_error) and \
         `via` (chat, or mcp for /mcp)."
    );
    describe_histogram!(
        "tool_call_duration_seconds",
        Unit::Seconds,
        "Tool call wall-clock time by `plugin` and `function`."
    );
    describe_histogram!(
        "tool_call_fuel_consumed",
        "Fuel (≈ wasm instructions) a tool call used, by `plugin` and `function`."
    );
    describe_counter!(
        "plugin_reloads_total",
        "Plugin loads by `plugin` and `outcome`: loaded, rejected (the old version keeps serving), removed, rolled_back."
    );
}

/// Counts and times every request under its route template. Layered with `Router::layer`, so it
/// runs after routing and sees [`MatchedPath`].
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let route = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_string());
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "http_requests_total",
        "method" => method,
        "route" => route,
        "status" => response.status().as_str().to_string()
    )
    .increment(1);
    response
}

/// Methods a client invents are one label, not one each.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "other",
    }
}
