//! `POST /chat/stream`: validates the request, starts the turn in its own task and streams its
//! events as SSE, with a keep-alive comment every 15 seconds. The turn outlives the connection: a
//! client that goes away finds the reply in the session history.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::Stream;
use tokio_util::task::TaskTracker;

use super::chat_request::ChatRequest;
use super::error::ApiError;
use super::extract::ApiJson;
use super::sse_connections::{ConnectionGuard, SseConnections};
use crate::auth::AuthUser;
use crate::chat::sink::{self, Outbox};
use crate::chat::sse;
use crate::chat::turn::{self, TurnDeps, TurnInput};
use crate::shutdown::Shutdown;
use crate::telemetry::TurnContext;

pub async fn stream(
    State(deps): State<TurnDeps>,
    State(shutdown): State<Shutdown>,
    State(connections): State<SseConnections>,
    State(turns): State<TaskTracker>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let request = request.validate()?;
    if shutdown.is_draining() {
        return Err(ApiError::ServiceUnavailable("Service is shutting down. Please retry.".to_string()));
    }
    let request_id =
        super::request_id::of(&headers).map(str::to_string).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let guard = connections.open();
    let (sink, outbox) = sink::channel(deps.config.server.slow_client_timeout);
    // The turn runs on after the connection: it carries the request's identity itself.
    let input = TurnInput { user, request, request_id };
    let context = TurnContext::new(&input.request_id, &input.user.user_id);
    turns.spawn(context.run(turn::run(deps, input, sink)));

    Ok(sse_response(Body::from_stream(sse_body(outbox, guard))))
}

/// A 200 streaming `body` as Server-Sent Events (also the resume of a turn, `super::turns`).
pub(super) fn sse_response(body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The events of the turn, interleaved with keep-alive pings, ending when the turn is done. The
/// guard keeps the stream counted until the body is finished or dropped (client gone).
fn sse_body(outbox: Outbox, guard: ConnectionGuard) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let ping = tokio::time::interval_at(tokio::time::Instant::now() + sse::PING_INTERVAL, sse::PING_INTERVAL);
    futures::stream::unfold((outbox, ping, guard), |(mut outbox, mut ping, guard)| async move {
        tokio::select! {
            event = outbox.recv() => event.map(|bytes| (Ok(bytes), (outbox, ping, guard))),
            _ = ping.tick() => Some((Ok(sse::ping(chrono::Utc::now())), (outbox, ping, guard))),
        }
    })
}
