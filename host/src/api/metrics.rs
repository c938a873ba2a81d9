//! `GET /metrics`: every metric in the Prometheus text format.
//!
//! The runbook is silent on metrics. A Render web service is reachable from the internet, and
//! these numbers (traffic, token spend, the plugin inventory, error rates) are operational data,
//! so the route takes the same key as the other operator routes: `X-Internal-Key`, or
//! `Authorization: Bearer <INTERNAL_API_KEY>`, which is what Prometheus' `authorization` scrape
//! setting sends. With `METRICS_ENABLED=false` the route does not exist.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{self, InternalCaller, internal};

/// The exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn scrape(_: Scraper) -> Response {
    let body = crate::telemetry::metrics::recorder().render();
    ([(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], body).into_response()
}

/// A caller holding the internal key, by either header.
pub struct Scraper;

impl FromRequestParts<AppState> for Scraper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let bearer =
            parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(auth::bearer_token);
        match bearer {
            Some(token) => internal::verify(token, state)?,
            None => InternalCaller::from_request_parts(parts, state).await?,
        };
        Ok(Scraper)
    }
}
