//! A running turn from any instance: `GET /chat/turns/{turn_id}/events` resumes its stream after
//! the client's last event (`Last-Event-ID: <turn>:<seq>`, or `?after=<seq>`), replaying exactly
//! the events after it from the turn's event log and then the live ones until the terminal event;
//! `POST /chat/turns/{turn_id}/stop` stops it wherever it runs. Another user's turn is 404; a turn
//! whose events are past their retention is 410 (its reply is in the session's messages).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use store::Store;
use uuid::Uuid;

use super::chat::sse_response;
use super::error::ApiError;
use super::sse_connections::{ConnectionGuard, SseConnections};
use crate::auth::AuthUser;
use crate::chat::sse;
use crate::chat::turn::TurnDeps;
use crate::live::event_log::{Tail, TurnRecord};
use crate::telemetry::live_metrics;

/// How long a resumed stream waits for a new event before it checks the turn is still kept.
const TAIL_IDLE: Duration = Duration::from_secs(5);

const GONE: &str = "This reply's events are no longer kept. Read the session's messages instead \
                    (GET /chat/sessions/{session_id}/messages).";
const NOT_FOUND: &str = "Turn not found.";
const LOG_UNAVAILABLE: &str =
    "Resuming is unavailable right now. The reply will be in the session's messages; please retry shortly.";

#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    #[serde(default)]
    after: Option<String>,
}

pub async fn events(
    State(deps): State<TurnDeps>,
    State(store): State<Store>,
    State(connections): State<SseConnections>,
    user: AuthUser,
    Path(turn_id): Path<String>,
    Query(query): Query<ResumeQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let turn = canonical_turn(&turn_id)?;
    let after = resume_point(&headers, query.after.as_deref(), &turn_id)?;
    match owned_record(&deps, &store, &turn_id, turn, &user).await {
        Ok(_) => live_metrics::resume("resumed"),
        Err(err) => {
            live_metrics::resume(match err {
                ApiError::Gone(_) => "gone",
                ApiError::ServiceUnavailable(_) => "unavailable",
                _ => "refused",
            });
            return Err(err);
        }
    }
    let tail = deps.live.log.tail(&turn_id, after, TAIL_IDLE);
    Ok(sse_response(Body::from_stream(replay(tail, connections.open()))))
}

pub async fn stop(
    State(deps): State<TurnDeps>,
    State(store): State<Store>,
    user: AuthUser,
    Path(turn_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let turn = canonical_turn(&turn_id)?;
    let finished = json!({"turn_id": turn_id, "status": "finished"});
    let record = match owned_record(&deps, &store, &turn_id, turn, &user).await {
        Ok(record) => record,
        // Past its retention, a turn has long finished: stopping it does nothing.
        Err(ApiError::Gone(_)) => return Ok(Json(finished)),
        Err(err) => return Err(err),
    };
    if record.done {
        live_metrics::stop("finished");
        return Ok(Json(finished));
    }
    if !deps.live.stops.request(&turn_id).await {
        return Err(ApiError::ServiceUnavailable(
            "The stop could not be delivered right now. Please retry shortly.".to_string(),
        ));
    }
    live_metrics::stop("stopping");
    Ok(Json(json!({"turn_id": turn_id, "status": "stopping"})))
}

/// A turn id is the simple form of its user message's UUID; anything else names no turn (and
/// never reaches a Redis key).
fn canonical_turn(turn_id: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(turn_id)
        .ok()
        .filter(|id| id.simple().to_string() == turn_id)
        .ok_or_else(|| ApiError::NotFound(NOT_FOUND.to_string()))
}

/// The sequence number the client saw last: from `Last-Event-ID` (which must name this turn), else
/// `?after=`, else 0 (the whole turn).
fn resume_point(headers: &HeaderMap, after: Option<&str>, turn_id: &str) -> Result<u64, ApiError> {
    if let Some(value) = headers.get("last-event-id") {
        let value = value.to_str().unwrap_or_default();
        let Some((turn, seq)) = value.rsplit_once(':') else {
            return Err(ApiError::validation("header.Last-Event-ID", "expected <turn_id>:<seq>"));
        };
        if turn != turn_id {
            return Err(ApiError::validation("header.Last-Event-ID", "the id is of another turn"));
        }
        return seq.parse().map_err(|_| ApiError::validation("header.Last-Event-ID", "expected <turn_id>:<seq>"));
    }
    match after {
        None => Ok(0),
        Some(after) => after.parse().map_err(|_| ApiError::validation("query.after", "expected a sequence number")),
    }
}

/// The turn's record if it is the user's: 404 for an unknown turn or another user's, 410 for one
/// past its retention, 503 while the log is unreachable.
async fn owned_record(
    deps: &TurnDeps,
    store: &Store,
    turn_id: &str,
    turn: Uuid,
    user: &AuthUser,
) -> Result<TurnRecord, ApiError> {
    match deps.live.log.record(turn_id).await {
        Ok(Some(record)) if record.user_id == user.user_id => Ok(record),
        Ok(Some(_)) => Err(ApiError::NotFound(NOT_FOUND.to_string())),
        Ok(None) if store.user_message_exists(turn, &user.user_id).await? => Err(ApiError::Gone(GONE.to_string())),
        Ok(None) => Err(ApiError::NotFound(NOT_FOUND.to_string())),
        Err(_) => Err(ApiError::ServiceUnavailable(LOG_UNAVAILABLE.to_string())),
    }
}

/// The replayed and live events, with the keep-alive comment while none come; ends after the
/// terminal event (or when the log becomes unreachable: the client resumes again later).
fn replay(tail: Tail, guard: ConnectionGuard) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let ping = tokio::time::interval_at(tokio::time::Instant::now() + sse::PING_INTERVAL, sse::PING_INTERVAL);
    futures::stream::unfold((tail, ping, guard), |(mut tail, mut ping, guard)| async move {
        tokio::select! {
            event = tail.next() => match event {
                Some(Ok(event)) => Some((Ok(event.frame), (tail, ping, guard))),
                Some(Err(err)) => {
                    tracing::warn!(error = %err, "a resumed stream lost its event log");
                    None
                }
                None => None,
            },
            _ = ping.tick() => Some((Ok(sse::ping(chrono::Utc::now())), (tail, ping, guard))),
        }
    })
}
