//! `GET /metrics`: every metric in the Prometheus text format.
//!
//! The runbook is silent on metrics. A Render web service is reachable from the internet, and
//! these numbers (traffic, token spend, the plugin inventory, error rates) are operational data,
//! so the route takes a credential of its own, `METRICS_TOKEN`, as `Authorization: Bearer` (what
//! Prometheus' `authorization` scrape setting sends); see [`MetricsScraper`]. It opens nothing
//! else, and no other key opens it. With `METRICS_ENABLED=false` the route does not exist.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::extract::MetricsScraper;

/// The exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn scrape(_: MetricsScraper) -> Response {
    let body = crate::telemetry::metrics::recorder().render();
    ([(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], body).into_response()
}
