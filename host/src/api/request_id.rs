//! The request id: every request carries `X-Request-Id` (the client's, or a new UUID), echoed in the
//! response and recorded on the request's span and Sentry scope, so a log line, a Sentry event and a
//! client's report can be matched.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderName;
use tracing::Span;

use crate::telemetry::metrics::UNMATCHED_ROUTE;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The span of one HTTP request: its id, method and route template (never the raw path or query,
/// which may carry identifiers). The user is recorded once authenticated
/// ([`crate::telemetry::logs::record_user`]). The request id also goes on the request's Sentry
/// scope (a no-op without Sentry), so its errors can be found from a log line and back.
pub fn request_span(request: &Request) -> Span {
    let request_id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
    sentry::configure_scope(|scope| scope.set_tag("request_id", request_id));
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or(UNMATCHED_ROUTE);
    tracing::info_span!(
        "request",
        request_id,
        method = %request.method(),
        route,
        user_id = tracing::field::Empty,
    )
}

/// The request id of a request that went through the request-id layer.
pub fn of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
}
