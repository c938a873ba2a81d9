//! `GET /metrics`: every metric in the Prometheus text format.
//!
//! The runbook is silent on metrics. A Render web service is reachable from the internet, and
//! these numbers (traffic, token spend, the plugin inventory, error rates) are operational data,
//! so the route takes the same key as the other operator routes: `X-Internal-Key`, or
//! `Authorization: Bearer <INTERNAL_API_KEY>`, which is what Prometheus' `authorization` scrape
//! setting sends. With `METRICS_ENABLED=false` the route does not exist.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::extract::InternalCaller;
use crate::auth;
use crate::config::Config;

/// The exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn scrape(_: Scraper) -> Response {
    let body = crate::telemetry::metrics::recorder().render();
    ([(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], body).into_response()
}

/// A caller holding the internal key, by either header.
pub struct Scraper;

impl<S: Send + Sync> FromRequestParts<S> for Scraper
where
    Arc<Config>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let bearer =
            parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(auth::bearer_token);
        match bearer {
            Some(token) => InternalCaller::verify(token, &Arc::<Config>::from_ref(state))?,
            None => InternalCaller::from_request_parts(parts, state).await?,
        };
        Ok(Scraper)
    }
}
