//! The Anthropic Messages API client: builds the request (auth, version, Helicone routing and
//! headers), sends it, and retries what failed before the first event (connection errors, 408/409,
//! 429 with `retry-after` unless it is the spend cap, 5xx, 529, and an `error` event or a cut body
//! before anything was streamed). Once the first event arrived it hands back the event stream; from
//! then on errors are the caller's to handle, because output may have reached the user. Every
//! response's `request-id` is logged. Requests go out over [`ConnectionLanes`]: HTTP/2 where the
//! server offers it, many streams to a connection.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::error::{ErrorBody, LlmError, error_chain, truncate_chars};
use super::lanes::ConnectionLanes;
use super::retry::{RetryPolicy, retry_after, should_retry_header};
use super::stream::MessageStream;
use super::types::{MessagesRequest, RequestMeta};
use crate::config::{AnthropicConfig, Secret};

/// The API version this client speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The largest error body read from a failed response.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Tuning that tests and operators may change.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    pub retry: RetryPolicy,
    /// The longest silence tolerated: waiting for the response headers, or between two body chunks
    /// (Anthropic pings idle streams, so a live stream is never silent this long).
    pub stall_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions { retry: RetryPolicy::default(), stall_timeout: Duration::from_secs(60) }
    }
}

/// Where a request goes and with which fixed headers.
#[derive(Debug, Clone)]
struct Route {
    messages_url: String,
    headers: HeaderMap,
    via_helicone: bool,
}

/// A cheap-to-clone handle to the Messages API (through Helicone when enabled).
#[derive(Clone)]
pub struct AnthropicClient {
    lanes: ConnectionLanes,
    /// Helicone's proxy when enabled, else `None`.
    helicone: Option<Route>,
    direct: Route,
    model: String,
    max_tokens: u32,
    options: ClientOptions,
    /// Never to appear in an error or a log line.
    secrets: Vec<String>,
}

impl std::fmt::Debug for AnthropicClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicClient")
            .field("messages_url", &self.route().messages_url)
            .field("via_helicone", &self.helicone.is_some())
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl AnthropicClient {
    /// `environment` becomes Helicone's `Environment` property. Requests go over `http` alone
    /// until [`AnthropicClient::with_lanes`] gives the client lanes of its own.
    pub fn new(config: &AnthropicConfig, environment: &str, http: reqwest::Client) -> AnthropicClient {
        let api_key = config.api_key.as_ref().map(Secret::expose).map(str::trim).filter(|k| !k.is_empty());
        let mut headers = HeaderMap::new();
        headers.insert("anthropic-version", HeaderValue::from_static(ANTHROPIC_VERSION));
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(http::header::ACCEPT, HeaderValue::from_static("text/event-stream"));
        if let Some(key) = api_key {
            insert_secret(&mut headers, "x-api-key", key);
        }
        let direct =
            Route { messages_url: messages_url(&config.base_url), headers: headers.clone(), via_helicone: false };

        let helicone_key =
            config.helicone_api_key.as_ref().map(Secret::expose).map(str::trim).filter(|k| !k.is_empty());
        let helicone = match (config.helicone_enabled, helicone_key) {
            (true, Some(key)) => {
                let mut headers = headers;
                insert_secret(&mut headers, "helicone-auth", &format!("Bearer {key}"));
                insert_text(&mut headers, "helicone-property-environment", environment);
                Some(Route { messages_url: messages_url(&config.helicone_base_url), headers, via_helicone: true })
            }
            (true, None) => {
                tracing::warn!("HELICONE_ENABLED without HELICONE_API_KEY: calling Anthropic directly");
                None
            }
            (false, _) => None,
        };

        let secrets = [api_key, helicone_key].into_iter().flatten().map(str::to_string).collect();
        AnthropicClient {
            lanes: ConnectionLanes::single(http),
            helicone,
            direct,
            model: config.model.clone(),
            max_tokens: config.max_tokens,
            options: ClientOptions::default(),
            secrets,
        }
    }

    /// Replaces the retry policy and the stall timeout.
    pub fn with_options(mut self, options: ClientOptions) -> AnthropicClient {
        self.options = options;
        self
    }

    /// Spreads requests over `lanes` (the service's: `ANTHROPIC_STREAMS_PER_CONNECTION` streams to
    /// an HTTP/2 connection).
    pub fn with_lanes(mut self, lanes: ConnectionLanes) -> AnthropicClient {
        self.lanes = lanes;
        self
    }

    /// The configured model (`DEFAULT_MODEL`).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The configured `max_tokens` per call.
    pub fn max_tokens(&self) -> u32 {
        self.max_tokens
    }

    /// Whether calls go through Helicone.
    pub fn uses_helicone(&self) -> bool {
        self.helicone.is_some()
    }

    /// The URL requests are sent to (`…/v1/messages`).
    pub fn messages_url(&self) -> &str {
        &self.route().messages_url
    }

    fn route(&self) -> &Route {
        self.helicone.as_ref().unwrap_or(&self.direct)
    }

    /// Sends `req` and returns its event stream once its first event arrived. Failures before that
    /// are retried per the [`RetryPolicy`]; a Helicone proxy that cannot be reached is bypassed.
    pub async fn stream(&self, req: &MessagesRequest, meta: &RequestMeta) -> Result<MessageStream, LlmError> {
        let body = serde_json::to_vec(&req.wire())
            .map(Bytes::from)
            .map_err(|err| LlmError::Decode(format!("could not encode the request: {err}")))?;
        let mut route = self.route().clone();
        add_meta_headers(&mut route, meta);
        let mut waited = Duration::ZERO;
        let mut retry: u32 = 0;
        loop {
            let (err, server_verdict) = match self.attempt(&route, &body, retry).await {
                Ok(stream) => return Ok(stream),
                Err(failure) => failure,
            };
            let err = err.redacted(&self.secret_refs());
            let spend_limit = matches!(err, LlmError::RateLimited { spend_limit: true, .. });
            let retryable = !spend_limit && server_verdict.unwrap_or_else(|| err.is_retryable());
            let delay = retryable.then(|| self.options.retry.delay(retry, err.retry_after(), waited)).flatten();
            let Some(delay) = delay else {
                metrics::counter!("anthropic_failures_total", "kind" => err.kind()).increment(1);
                tracing::warn!(error = %err, anthropic_request_id = err.request_id(), attempts = retry + 1, "anthropic call failed");
                return Err(err);
            };
            metrics::counter!("anthropic_retries_total", "kind" => err.kind()).increment(1);
            tracing::warn!(
                error = %err,
                anthropic_request_id = err.request_id(),
                retry = retry + 1,
                delay_ms = delay.as_millis() as u64,
                "anthropic call failed before any output; retrying"
            );
            if route.via_helicone && matches!(err, LlmError::Connection(_) | LlmError::Timeout) {
                tracing::warn!("Helicone unreachable: retrying directly against Anthropic");
                route = self.direct.clone();
            }
            tokio::time::sleep(delay).await;
            waited += delay;
            retry += 1;
        }
    }

    fn secret_refs(&self) -> Vec<&str> {
        self.secrets.iter().map(String::as_str).collect()
    }

    /// One HTTP attempt. An error comes with the server's `x-should-retry` verdict, if it gave one.
    async fn attempt(
        &self,
        route: &Route,
        body: &Bytes,
        retry: u32,
    ) -> Result<MessageStream, (LlmError, Option<bool>)> {
        let stall = self.options.stall_timeout;
        let lane = self.lanes.acquire();
        let request = lane
            .client()
            .post(&route.messages_url)
            .headers(route.headers.clone())
            .headers(crate::telemetry::otel::trace_headers(&tracing::Span::current()))
            .body(body.clone());
        let send = lane.send(request);
        let response = match tokio::time::timeout(stall, send).await {
            Err(_elapsed) => return Err((LlmError::Timeout, None)),
            Ok(Err(err)) => return Err((LlmError::Connection(describe(err)), None)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let headers = response.headers();
        let request_id = headers.get("request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        tracing::info!(
            anthropic_request_id = request_id.as_deref(),
            status = status.as_u16(),
            attempt = retry + 1,
            via_helicone = route.via_helicone,
            "anthropic responded"
        );
        if !status.is_success() {
            let verdict = should_retry_header(headers);
            let retry_after = retry_after(headers);
            let body = read_capped(response, stall).await;
            let parsed = serde_json::from_slice::<ErrorBody>(&body).unwrap_or_else(|_| {
                let mut fallback = ErrorBody::default();
                fallback.error.message = truncate_chars(&String::from_utf8_lossy(&body), 200);
                fallback
            });
            return Err((LlmError::from_error_body(Some(status.as_u16()), parsed, retry_after, request_id), verdict));
        }
        let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.starts_with("text/event-stream") {
            let err = LlmError::Decode(format!("expected an event stream, got content-type {content_type:?}"));
            return Err((err, Some(false)));
        }
        let mut stream = MessageStream::from_bytes(lane.hold_while(response.bytes_stream()), request_id, stall)
            .redacting(self.secrets.clone());
        // An error event or a cut before the first event is still a failure before any output.
        match stream.next().await {
            Some(Ok(first)) => Ok(stream.prepend(first)),
            Some(Err(err)) => Err((err, None)),
            None => Err((LlmError::StreamEnded, None)),
        }
    }
}

/// The per-call Helicone headers (only on the Helicone route; Anthropic does not need them).
fn add_meta_headers(route: &mut Route, meta: &RequestMeta) {
    if !route.via_helicone {
        return;
    }
    let fields = [
        ("helicone-user-id", Some(meta.user_id.as_str())),
        ("helicone-session-id", meta.session_id.as_deref()),
        ("helicone-property-request-id", Some(meta.request_id.as_str())),
    ];
    for (name, value) in fields {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            insert_text(&mut route.headers, name, value);
        }
    }
}

fn messages_url(base_url: &str) -> String {
    format!("{}/v1/messages", base_url.trim_end_matches('/'))
}

fn insert_secret(headers: &mut HeaderMap, name: &'static str, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(mut value) => {
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(name), value);
        }
        Err(_) => tracing::error!(header = name, "the configured secret is not a valid header value; not sent"),
    }
}

fn insert_text(headers: &mut HeaderMap, name: &'static str, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(value) => {
            headers.insert(HeaderName::from_static(name), value);
        }
        Err(_) => tracing::warn!(header = name, "value is not a valid header value; header not sent"),
    }
}

/// A transport error with its causes, without the URL (it adds nothing and may be long).
fn describe(err: reqwest::Error) -> String {
    error_chain(&err.without_url())
}

/// The start of an error response's body (bounded in size and time).
pub(crate) async fn read_capped(mut response: reqwest::Response, stall: Duration) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match tokio::time::timeout(stall, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY_BYTES);
    body
}
