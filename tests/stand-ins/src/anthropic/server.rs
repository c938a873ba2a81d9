//! The HTTP side of the stand-in: an axum server on loopback serving `POST /v1/messages`, answering
//! each request with the next queued [`Reply`] (or, in dev mode, the dev model's), refusing requests
//! the real API would refuse, and recording every request for assertions.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::Notify;

use super::reply::Reply;
use super::wire::{Rendered, RequestFacts, render};
use super::{dev_model, new_id, validate};

/// The body limit of the real Messages API.
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    /// The JSON body (`Value::Null` when it was not JSON).
    pub body: Value,
    pub raw_body: Bytes,
}

impl RecordedRequest {
    /// A header value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The text blocks of the last message, joined.
    pub fn last_message_text(&self) -> String {
        let Some(last) = self.body.get("messages").and_then(Value::as_array).and_then(|m| m.last()) else {
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
    requests: Mutex<Vec<RecordedRequest>>,
    request_arrived: Notify,
    fallback: Fallback,
    validate: bool,
    /// The pause between the events of dev-model replies.
    dev_pace: Duration,
}

/// Configures a [`StandIn`] before it starts.
#[derive(Debug, Clone)]
pub struct StandInBuilder {
    addr: SocketAddr,
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

    /// Accepts requests the real API would refuse (to test the client's own error paths).
    pub fn without_validation(mut self) -> StandInBuilder {
        self.validate = false;
        self
    }

    pub async fn start(self) -> StandIn {
        let shared = Arc::new(Shared {
            replies: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            request_arrived: Notify::new(),
            fallback: self.fallback.clone(),
            validate: self.validate,
            dev_pace: self.dev_pace,
        });
        let app = Router::new()
            .route("/v1/messages", axum::routing::post(messages))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(self.addr).await.expect("bind the Anthropic stand-in");
        let addr = listener.local_addr().expect("stand-in address");
        let task = tokio::spawn(accept_loop(listener, app));
        let mode = match self.fallback {
            Fallback::DevModel => "dev model",
            Fallback::Repeat(_) => "repeating one reply",
            Fallback::Refuse => "scripted",
        };
        tracing::info!(%addr, mode, "[stand-in Anthropic] listening (this is NOT the real Anthropic API)");
        StandIn { addr, shared, task }
    }
}

/// A running stand-in. Dropping it stops the server and breaks its open connections.
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIn").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    pub fn builder() -> StandInBuilder {
        StandInBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
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

    /// The base URL (`ANTHROPIC_BASE_URL`), e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
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

    /// Scripted replies not consumed yet.
    pub fn pending_replies(&self) -> usize {
        self.shared.replies.lock().unwrap().len()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many requests arrived so far.
    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    /// The newest request. Panics when none arrived.
    pub fn last_request(&self) -> RecordedRequest {
        self.shared.requests.lock().unwrap().last().cloned().expect("the stand-in received no request")
    }

    /// Waits until at least `count` requests arrived, or panics after `timeout`.
    pub async fn wait_for_requests(&self, count: usize, timeout: Duration) {
        let wait = async {
            loop {
                let arrived = self.shared.request_arrived.notified();
                if self.request_count() >= count {
                    return;
                }
                arrived.await;
            }
        };
        if tokio::time::timeout(timeout, wait).await.is_err() {
            panic!("the stand-in got {} requests, expected {count} within {timeout:?}", self.request_count());
        }
    }
}

/// Serves connections until the task is aborted; the connections live in a `JoinSet` owned by this
/// task, so aborting it (dropping the [`StandIn`]) breaks them all, keep-alive ones included.
async fn accept_loop(listener: tokio::net::TcpListener, app: Router) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let service = hyper_util::service::TowerToHyperService::new(app.clone());
                    connections.spawn(async move {
                        let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                        let io = hyper_util::rt::TokioIo::new(stream);
                        if let Err(err) = builder.serve_connection(io, service).await {
                            tracing::debug!(%err, "[stand-in Anthropic] connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    tracing::warn!(%err, "[stand-in Anthropic] accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
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

fn record(shared: &Shared, request: RecordedRequest) {
    shared.requests.lock().unwrap().push(request);
    shared.request_arrived.notify_waiters();
}

async fn messages(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    record(
        &shared,
        RecordedRequest {
            method: Method::POST,
            path: "/v1/messages".into(),
            headers,
            body: json.clone(),
            raw_body: body.clone(),
        },
    );
    let request_id = new_id("req_");
    let invalid = if json.is_null() {
        Some("There was an error parsing the body of your request: expected JSON".to_string())
    } else if shared.validate {
        validate::validate(&json).err()
    } else {
        None
    };
    let reply = match invalid {
        Some(message) => {
            tracing::warn!(%request_id, %message, "[stand-in Anthropic] refusing an invalid request");
            Reply::status(400).error_message(message)
        }
        None => next_reply(&shared, &json),
    };
    let facts = RequestFacts {
        model: json.get("model").and_then(Value::as_str).unwrap_or("claude-stand-in"),
        request_id: &request_id,
        estimated_input_tokens: (body.len() as u64 / 4).max(1),
    };
    let rendered = render(&reply, &facts);
    tracing::info!(%request_id, status = rendered.status, reply = %rendered.summary, "[stand-in Anthropic] POST /v1/messages");
    respond(rendered).await
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

async fn respond(rendered: Rendered) -> Response {
    if !rendered.response_delay.is_zero() {
        tokio::time::sleep(rendered.response_delay).await;
    }
    let abort = rendered.abort;
    let chunks = futures::stream::unfold(rendered.chunks.into_iter(), move |mut chunks| async move {
        match chunks.next() {
            Some((pause, bytes)) => {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                Some((Ok::<_, std::io::Error>(stamp_now(bytes)), chunks))
            }
            None if abort => {
                // Let the bytes written so far reach the client first (hyper flushes on a pause).
                tokio::time::sleep(Duration::from_millis(20)).await;
                let err = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "stand-in: connection broken");
                Some((Err(err), Vec::new().into_iter()))
            }
            None => None,
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

async fn not_found(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    record(&shared, RecordedRequest { method, path: uri.path().to_string(), headers, body: json, raw_body: body });
    let body = serde_json::json!({"type":"error","error":{"type":"not_found_error","message":"Not found"}});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}
