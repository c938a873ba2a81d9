//! Scripted replies of a downstream stand-in: per test, a route can answer with any status and a
//! FastAPI-shaped body instead of its normal answer, or hold its normal answer at a [`Gate`] (a
//! service that does not answer until the test says so, or ever), always or for the next few
//! requests only.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::gate::Gate;
use crate::recording_server::RecordedRequest;

/// A scripted reply.
#[derive(Clone, Debug)]
pub enum Reply {
    /// This status with `{"detail": <reason>}`.
    Status(u16),
    /// This status and body.
    Json(u16, Value),
    /// The normal answer, once the gate opens; never, if the test never opens it (a service that
    /// does not answer, for timeouts).
    Held(Gate),
}

struct Rule {
    method: Method,
    /// Exact path, or a prefix when it ends with `*`.
    path: String,
    reply: Reply,
    remaining: Option<usize>,
}

impl Rule {
    fn matches(&self, request: &RecordedRequest) -> bool {
        self.method.as_str() == request.method
            && self.remaining != Some(0)
            && match self.path.strip_suffix('*') {
                Some(prefix) => request.path.starts_with(prefix),
                None => self.path == request.path,
            }
    }
}

/// The scripted replies of one stand-in, first match wins.
#[derive(Default)]
pub(super) struct Script {
    rules: Mutex<Vec<Rule>>,
}

impl Script {
    /// Replies to `method path` with `reply`, for the next `times` matching requests (always if `None`).
    pub fn push(&self, method: &str, path: &str, reply: Reply, times: Option<usize>) {
        let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        self.rules.lock().push(Rule { method, path: path.to_string(), reply, remaining: times });
    }

    pub fn clear(&self) {
        self.rules.lock().clear();
    }

    /// The reply scripted for `request`, counting it against its rule.
    pub fn take(&self, request: &RecordedRequest) -> Option<Reply> {
        let mut rules = self.rules.lock();
        let rule = rules.iter_mut().find(|r| r.matches(request))?;
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        Some(rule.reply.clone())
    }
}

/// What a scripted reply answers; `None` when the normal answer follows (after a held gate opened).
pub(super) async fn scripted_response(reply: Reply) -> Option<Response> {
    match reply {
        Reply::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some((status, axum::Json(json!({"detail": detail_for(status)}))).into_response())
        }
        Reply::Json(code, body) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            Some((status, axum::Json(body)).into_response())
        }
        Reply::Held(gate) => {
            gate.passed().await;
            None
        }
    }
}

fn detail_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "Invalid token",
        403 => "Forbidden",
        404 => "Not found",
        422 => "Unprocessable entity",
        429 => "Too many requests",
        _ => "Internal server error",
    }
}
