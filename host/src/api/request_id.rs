//! The request id: every request carries `X-Request-Id` (the client's, or a new UUID), echoed in the
//! response and recorded on the request's span and Sentry scope, so a log line, a Sentry event and a
//! client's report can be matched.
//!
//! The id flows into logs, Sentry tags, the plugins' call context and Helicone's headers, so a
//! client's id is adopted only when it is a short token ([`is_adoptable`]); any other is dropped
//! ([`drop_unadoptable`], the outermost layer) and a fresh one takes its place.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use tracing::Span;

use crate::telemetry::metrics::UNMATCHED_ROUTE;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id adopted from a client (a UUID is 36 characters).
pub const MAX_ADOPTED_LEN: usize = 64;

/// Whether a client's request id is kept: 1 to 64 characters of `[A-Za-z0-9._-]`.
pub fn is_adoptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_ADOPTED_LEN).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Removes the client's `X-Request-Id` unless it is exactly one adoptable value; the request-id
/// layer then gives the request a fresh one.
pub fn drop_unadoptable(mut request: Request) -> Request {
    if !has_one_adoptable_id(request.headers()) {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

fn has_one_adoptable_id(headers: &HeaderMap) -> bool {
    let mut ids = headers.get_all(REQUEST_ID).iter();
    match (ids.next(), ids.next()) {
        (None, _) => true,
        (Some(id), None) => is_adoptable(id),
        (Some(_), Some(_)) => false,
    }
}

/// The span of one HTTP request: its id, method and route template (never the raw path or query,
/// which may carry identifiers). The user is recorded once authenticated
/// ([`crate::telemetry::logs::record_user`]). The request id also goes on the request's Sentry
/// scope (a no-op without Sentry), so its errors can be found from a log line and back.
pub fn request_span(request: &Request) -> Span {
    let request_id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
    sentry::configure_scope(|scope| scope.set_tag("request_id", request_id));
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or(UNMATCHED_ROUTE);
    let span = tracing::info_span!(
        "request",
        request_id,
        method = %request.method(),
        route,
        user_id = tracing::field::Empty,
    );
    crate::telemetry::otel::continue_client_trace(&span, request.headers());
    span
}

/// The request id of a request that went through the request-id layer.
pub fn of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_after(values: &[&str]) -> Vec<String> {
        let mut request = Request::new(axum::body::Body::empty());
        for value in values {
            request.headers_mut().append(REQUEST_ID, HeaderValue::from_str(value).unwrap());
        }
        let request = drop_unadoptable(request);
        request.headers().get_all(REQUEST_ID).iter().map(|v| v.to_str().unwrap().to_string()).collect()
    }

    #[test]
    fn short_tokens_are_adopted() {
        for id in ["0b6c9c1e-8f0e-4c6e-9d52-6ab0c1f2e3d4", "web.1234_abc-DEF", "x", &"a".repeat(64)] {
            assert_eq!(id_after(&[id]), [id], "{id}");
        }
    }

    #[test]
    fn anything_else_is_dropped_for_a_fresh_id() {
        let long = "a".repeat(65);
        for id in [long.as_str(), "", "has space", "semi;colon", "new\tline", "{\"json\": 1}", "caf\u{e9}"] {
            let Ok(value) = HeaderValue::from_str(id) else { continue };
            assert!(!is_adoptable(&value), "{id:?}");
            assert!(id_after(&[id]).is_empty(), "{id:?}");
        }
        assert!(id_after(&["one", "two"]).is_empty(), "two ids: neither is trusted");
        assert!(id_after(&[]).is_empty());
    }
}
