//! OpenTelemetry traces, exported over OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//! set: a `tracing` layer turns the spans the service already makes (`request`, `turn`,
//! `llm_call`, `tool_call`, `egress`) into OpenTelemetry spans, batched and posted to
//! `<endpoint>/v1/traces`. A client's W3C `traceparent` makes its request (and so the turn) part of
//! the client's trace; the host's own Anthropic/OpenAI requests and the plugins' requests carry the
//! `traceparent` of their span. Without the endpoint no layer is installed and nothing here costs
//! more than a failed downcast.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_http::{Bytes, HeaderExtractor, HeaderInjector, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use tracing::Span;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{Config, OtelConfig, OtelRootSampler, OtelSampler};

/// The provider of the installed layer, kept to flush it on shutdown.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// How long one export may take (the collector's answer included).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The layer exporting spans, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. A provider that cannot be
/// built is reported on stderr (logging is not up yet) and the service runs without traces.
pub fn layer<S>(config: &Config) -> Option<OpenTelemetryLayer<S, SdkTracer>>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let otel = config.telemetry.otel.as_ref()?;
    let provider = match provider(otel) {
        Ok(provider) => provider,
        Err(err) => {
            eprintln!("chat-api: OpenTelemetry export off: {err}");
            return None;
        }
    };
    let tracer = provider.tracer("amakaflow-chat");
    // A second subscriber in one process (tests building several apps) is never installed: the
    // first provider stays the one flushed.
    let _ = PROVIDER.set(provider);
    Some(tracing_opentelemetry::layer().with_tracer(tracer))
}

fn provider(otel: &OtelConfig) -> anyhow::Result<SdkTracerProvider> {
    let headers: HashMap<String, String> =
        otel.headers.iter().map(|(name, value)| (name.clone(), value.expose().to_string())).collect();
    let exporter = SpanExporter::builder()
        .with_http()
        .with_http_client(ExportClient::new()?)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", otel.endpoint))
        .with_headers(headers)
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler(otel.sampler))
        .with_resource(Resource::builder().with_service_name(otel.service_name.clone()).build())
        .build())
}

fn sampler(sampler: OtelSampler) -> Sampler {
    let root = |root| match root {
        OtelRootSampler::AlwaysOn => Sampler::AlwaysOn,
        OtelRootSampler::AlwaysOff => Sampler::AlwaysOff,
        OtelRootSampler::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
    };
    match sampler {
        OtelSampler::AlwaysOn => Sampler::AlwaysOn,
        OtelSampler::AlwaysOff => Sampler::AlwaysOff,
        OtelSampler::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
        OtelSampler::ParentBased(inner) => Sampler::ParentBased(Box::new(root(inner))),
    }
}

/// Sends and flushes what is still batched; call once serving has stopped. Blocking work, done on
/// a blocking thread.
pub async fn shutdown() {
    let Some(provider) = PROVIDER.get() else { return };
    let provider = provider.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Err(err) = provider.shutdown() {
            tracing::warn!(error = %err, "OpenTelemetry spans not flushed at shutdown");
        }
    })
    .await;
}

/// The 32-hex trace id of `span`, only while it is recording (exported): `message_start.trace_id`.
pub fn recording_trace_id(span: &Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    (span_context.is_valid() && span_context.is_sampled()).then(|| span_context.trace_id().to_string())
}

/// Makes `span` a child of the client's W3C `traceparent` (and `tracestate`), when it sent a valid one.
pub fn continue_client_trace(span: &Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Makes `span` a child of `parent` in its trace (a turn outlives its request but belongs to it).
pub fn set_parent(span: &Span, parent: &Span) {
    let context = parent.context();
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// `traceparent` (and `tracestate`) of `span`, for an outgoing request; empty without a trace.
pub fn trace_headers(span: &Span) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let context = span.context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(&mut headers));
    }
    headers
}

/// The `traceparent` the plugins' requests carry: their `egress` span's. `None` while export is
/// off (no hook at all: the plugins' requests are left as they are).
pub fn egress_hook(config: &Config) -> Option<tools::TraceContextHook> {
    config.telemetry.otel.as_ref()?;
    Some(tools::TraceContextHook::new(|| trace_headers(&Span::current()).remove("traceparent")))
}

/// The exporter's HTTP client: the workspace's reqwest (rustls), on a runtime of its own, since the
/// batch processor exports from its own thread, outside any runtime, and must still flush while
/// the service's runtime shuts down.
#[derive(Debug)]
struct ExportClient {
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl ExportClient {
    fn new() -> anyhow::Result<ExportClient> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()?;
        let http = reqwest::Client::builder().timeout(EXPORT_TIMEOUT).build()?;
        Ok(ExportClient { http, runtime })
    }
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let http = self.http.clone();
        let sent = self.runtime.spawn(async move {
            let response = http.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            let mut answer = Response::new(body);
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok::<_, reqwest::Error>(answer)
        });
        Ok(sent.await??)
    }
}
