//! The HTTP side of the stand-in: it serves `POST /v1/messages` on the shared
//! [`RecordingServer`] (which records every request), answering each request with the next queued
//! [`Reply`] (or, in dev mode, the dev model's), and refusing requests the real API would refuse.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::reply::Reply;
use super::wire::{Rendered, RequestFacts, render};
use super::{dev_model, new_id, validate};
use crate::recording_server::{Alpn, RecordedRequest, RecordingServer, Transport, runs_on_recording_server};

/// The body limit of the real Messages API.
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// The Messages API's reading of a recorded request.
impl RecordedRequest {
    /// The text blocks of the last message, joined.
    pub fn last_message_text(&self) -> String {
        let body = self.json();
        let Some(last) = body.get("messages").and_then(Value::as_array).and_then(|m| m.last()) else {
            return String::new();
        };
        match last.get("content") {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect(),
            _ => String::new(),
        }
    }
}

/// How the stand-in answers when no scripted reply is queued.
#[derive(Debug, Clone)]
enum Fallback {
    /// A 400 that names the missing script (tests must queue every reply they expect).
    Refuse,
    DevModel,
    /// The same reply to every request (load benchmarks).
    Repeat(Box<Reply>),
}

/// Written into a text delta, this marker is replaced at the moment the chunk is written with the
/// current time in microseconds since the Unix epoch (16 digits), so a client on the same machine
/// can measure how long the byte took to reach it.
pub const NOW_MARKER: &str = "{{now_us}}";

struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    /// Answers in flight at once at most, as an organisation's concurrency limit: one more is a 429.
    max_concurrent: Option<usize>,
    concurrency: Concurrency,
    fallback: Fallback,
    validate: bool,
    /// The pause between the events of dev-model replies.
    dev_pace: Duration,
}

/// Configures a [`StandIn`] before it starts.
#[derive(Debug, Clone)]
pub struct StandInBuilder {
    addr: SocketAddr,
    max_concurrent: Option<usize>,
    transport: Transport,
    fallback: Fallback,
    validate: bool,
    dev_pace: Duration,
}

impl StandInBuilder {
    /// Answers every request without a queued reply with `reply` (load benchmarks).
    pub fn repeat(mut self, reply: Reply) -> StandInBuilder {
        self.fallback = Fallback::Repeat(Box::new(reply));
        self
    }

    /// Answers at most `limit` requests at once (a response counts until its body ends); one more
    /// gets Anthropic's 429 `rate_limit_error` with `retry-after`.
    pub fn max_concurrent(mut self, limit: usize) -> StandInBuilder {
        self.max_concurrent = Some(limit);
        self
    }

    /// Answers with the dev model when no scripted reply is queued.
    pub fn dev_model(mut self) -> StandInBuilder {
        self.fallback = Fallback::DevModel;
        self
    }

    /// The pause between dev-model events (default 10 ms, so a human sees the text stream).
    pub fn dev_pace(mut self, pace: Duration) -> StandInBuilder {
        self.dev_pace = pace;
        self
    }

    /// Listens on this address instead of an ephemeral loopback port.
    pub fn addr(mut self, addr: SocketAddr) -> StandInBuilder {
        self.addr = addr;
        self
    }

    /// Serves HTTPS like the real API, with a certificate of a run-time test CA (the server's
    /// [`RecordingServer::ca`]) and `alpn` choosing HTTP/2 or HTTP/1.1.
    pub fn tls(mut self, alpn: Alpn) -> StandInBuilder {
        self.transport = Transport::Tls(alpn);
        self
    }

    /// Accepts requests the real API would refuse (to test the client's own error paths).
    pub fn without_validation(mut self) -> StandInBuilder {
        self.validate = false;
        self
    }

    pub async fn start(self) -> StandIn {
        let shared = Arc::new(Shared {
            replies: Mutex::new(VecDeque::new()),
            max_concurrent: self.max_concurrent,
            concurrency: Concurrency::default(),
            fallback: self.fallback.clone(),
            validate: self.validate,
            dev_pace: self.dev_pace,
        });
        let answering = shared.clone();
        let server = RecordingServer::start_with(self.addr, self.transport, move |request| {
            let shared = answering.clone();
            async move {
                if request.method == "POST" && request.path == "/v1/messages" {
                    messages(shared, &request).await
                } else {
                    not_found()
                }
            }
        })
        .await;
        let mode = match self.fallback {
            Fallback::DevModel => "dev model",
            Fallback::Repeat(_) => "repeating one reply",
            Fallback::Refuse => "scripted",
        };
        tracing::info!(addr = %server.addr(), mode, "[stand-in Anthropic] listening (this is NOT the real Anthropic API)");
        StandIn { server, shared }
    }
}

/// A running stand-in. Dropping it stops the server and breaks its open connections.
///
/// It is a [`RecordingServer`] underneath and derefs to it: `url()`, `requests()`,
/// `last_request()`, `request_count()` and `wait_for_requests()` come from there.
pub struct StandIn {
    server: RecordingServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIn").field("addr", &self.server.addr()).finish_non_exhaustive()
    }
}

runs_on_recording_server!(StandIn);

impl StandIn {
    pub fn builder() -> StandInBuilder {
        StandInBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_concurrent: None,
            transport: Transport::Plain,
            fallback: Fallback::Refuse,
            validate: true,
            dev_pace: Duration::from_millis(10),
        }
    }

    /// A scripted stand-in: each request takes the next queued reply.
    pub async fn start() -> StandIn {
        StandIn::builder().start().await
    }

    /// The dev-mode stand-in: queued replies first, then the deterministic scripted model.
    pub async fn dev_model() -> StandIn {
        StandIn::builder().dev_model().start().await
    }

    /// Queues a reply for a later request.
    pub fn push(&self, reply: Reply) -> &StandIn {
        self.shared.replies.lock().unwrap().push_back(reply);
        self
    }

    /// Queues several replies in order.
    pub fn push_all(&self, replies: impl IntoIterator<Item = Reply>) -> &StandIn {
        self.shared.replies.lock().unwrap().extend(replies);
        self
    }

    /// The most answers that were in flight at once so far.
    pub fn peak_concurrency(&self) -> usize {
        self.shared.concurrency.peak.load(Ordering::SeqCst)
    }

    /// Requests refused with a 429 for exceeding [`StandInBuilder::max_concurrent`].
    pub fn refused_over_limit(&self) -> usize {
        self.shared.concurrency.refused.load(Ordering::SeqCst)
    }

    /// Scripted replies not consumed yet.
    pub fn pending_replies(&self) -> usize {
        self.shared.replies.lock().unwrap().len()
    }
}

/// Replaces every [`NOW_MARKER`] in a chunk with the current time.
fn stamp_now(bytes: Bytes) -> Bytes {
    let marker = NOW_MARKER.as_bytes();
    if !bytes.windows(marker.len()).any(|w| w == marker) {
        return bytes;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_micros();
    let text = String::from_utf8_lossy(&bytes).replace(NOW_MARKER, &format!("{now:016}"));
    Bytes::from(text)
}

/// Answers in flight now, the most at once, and the requests refused for the limit.
#[derive(Default)]
struct Concurrency {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicUsize,
}

/// One answer in flight; counted until dropped (with the response body).
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.concurrency.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts an answer in, or `None` when the limit is reached.
fn admit(shared: &Arc<Shared>) -> Option<InFlight> {
    let concurrency = &shared.concurrency;
    let now = concurrency.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let slot = InFlight(shared.clone());
    if shared.max_concurrent.is_some_and(|limit| now > limit) {
        concurrency.refused.fetch_add(1, Ordering::SeqCst);
        return None;
    }
    concurrency.peak.fetch_max(now, Ordering::SeqCst);
    Some(slot)
}

async fn messages(shared: Arc<Shared>, request: &RecordedRequest) -> Response {
    let request_id = new_id("req_");
    let json = request.json();
    let invalid = if request.body.len() > MAX_REQUEST_BYTES {
        Some((413, format!("Request exceeds the maximum allowed number of bytes ({MAX_REQUEST_BYTES}).")))
    } else if json.is_null() {
        Some((400, "There was an error parsing the body of your request: expected JSON".to_string()))
    } else if shared.validate {
        validate::validate(&json).err().map(|message| (400, message))
    } else {
        None
    };
    let slot = admit(&shared);
    let reply = match invalid {
        Some((status, message)) => {
            tracing::warn!(%request_id, %message, "[stand-in Anthropic] refusing an invalid request");
            Reply::status(status).error_message(message)
        }
        None if slot.is_none() => Reply::status(429)
            .error_message("Number of concurrent connections has exceeded your rate limit.")
            .retry_after(1),
        None => next_reply(&shared, &json),
    };
    let facts = RequestFacts {
        model: json.get("model").and_then(Value::as_str).unwrap_or("claude-stand-in"),
        request_id: &request_id,
        estimated_input_tokens: (request.body.len() as u64 / 4).max(1),
    };
    let rendered = render(&reply, &facts);
    tracing::info!(%request_id, status = rendered.status, reply = %rendered.summary, "[stand-in Anthropic] POST /v1/messages");
    respond(rendered, slot).await
}

fn next_reply(shared: &Shared, body: &Value) -> Reply {
    if let Some(reply) = shared.replies.lock().unwrap().pop_front() {
        return reply;
    }
    match &shared.fallback {
        Fallback::DevModel => dev_model::respond(body).event_delay(shared.dev_pace),
        Fallback::Repeat(reply) => (**reply).clone(),
        Fallback::Refuse => Reply::status(400).error_message("stand-in: no scripted reply is queued for this request"),
    }
}

async fn respond(rendered: Rendered, slot: Option<InFlight>) -> Response {
    if let Some(gate) = &rendered.headers_held {
        gate.passed().await;
    }
    let (abort, end_held) = (rendered.abort, rendered.end_held);
    let mut slot = slot;
    let chunks = futures::stream::unfold(Some(rendered.chunks.into_iter()), move |chunks| {
        // The answer counts as in flight until its last chunk goes out: a client that read the
        // whole answer may send the next request at once.
        if chunks.as_ref().is_none_or(|chunks| chunks.len() <= 1) {
            slot.take();
        }
        let end_held = end_held.clone();
        async move {
            let mut chunks = chunks?;
            match chunks.next() {
                Some((wait, bytes)) => {
                    if !wait.pause.is_zero() {
                        tokio::time::sleep(wait.pause).await;
                    }
                    if let Some(gate) = wait.gate {
                        gate.passed().await;
                    }
                    Some((Ok::<_, std::io::Error>(stamp_now(bytes)), Some(chunks)))
                }
                None => {
                    if let Some(gate) = end_held {
                        gate.passed().await;
                    }
                    if !abort {
                        return None;
                    }
                    // Let the bytes written so far reach the client first (hyper flushes on a pause).
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let err = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "stand-in: connection broken");
                    Some((Err(err), None))
                }
            }
        }
    });
    let mut response = Response::new(Body::from_stream(chunks));
    *response.status_mut() = StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in rendered.headers {
        if let (Ok(name), Ok(value)) =
            (axum::http::HeaderName::try_from(name), axum::http::HeaderValue::try_from(value))
        {
            response.headers_mut().append(name, value);
        }
    }
    response.headers_mut().insert("x-stand-in", axum::http::HeaderValue::from_static("anthropic"));
    response
}

fn not_found() -> Response {
    let body = serde_json::json!({"type":"error","error":{"type":"not_found_error","message":"Not found"}});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}
