//! The HTTP surface, and the only part of the service that knows HTTP: one module per resource,
//! the shared state ([`state`]), the extractors ([`extract`]) and the error type ([`error`]),
//! composed into one router with the cross-cutting layers (CORS, body limit, request ids, tracing,
//! metrics, Sentry, panic catching). Everything below (`chat`, `llm`, `auth`, the tool runtime, the
//! store) is called from here and never calls back.

pub mod admin;
pub mod audit;
pub mod chat;
pub mod chat_request;
pub mod console;
pub mod dev_page;
pub mod error;
pub mod extract;
pub mod health;
pub mod internal;
pub mod mcp;
pub mod metrics;
pub mod plugin_values;
pub mod request_id;
pub mod sessions;
pub mod sse_connections;
pub mod state;
pub mod turns;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use tower::util::MapRequestLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use request_id::REQUEST_ID;
pub use state::AppState;

/// Request headers that carry credentials: marked sensitive so that neither the trace layer nor
/// Sentry's request capture ever records them.
const CREDENTIAL_HEADERS: [HeaderName; 7] = [
    header::AUTHORIZATION,
    header::COOKIE,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-internal-key"),
    HeaderName::from_static("x-admin-key"),
    HeaderName::from_static("x-test-auth"),
    header::PROXY_AUTHORIZATION,
];

pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let telemetry = &config.telemetry;
    let mut routes = Router::new()
        .route("/health", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/chat/stream", post(chat::stream))
        // Turns that survive (#12): resume and stop from any instance.
        .route("/chat/turns/{turn_id}/events", get(turns::events))
        .route("/chat/turns/{turn_id}/stop", post(turns::stop))
        .route("/chat/sessions", get(sessions::list))
        .route("/chat/sessions/{session_id}/messages", get(sessions::messages))
        .route("/chat/sessions/{session_id}", delete(sessions::delete))
        .route("/internal/embeddings/generate", post(internal::generate))
        .route("/internal/embeddings/progress/{table}", get(internal::progress))
        .route("/internal/embeddings/webhook", post(internal::webhook))
        .merge(admin::routes(&state))
        .merge(plugin_values::routes(&state))
        .merge(dev_page::routes(&config))
        // The operator console (static; its data comes from the admin API with the typed key).
        .merge(console::routes())
        // The MCP server (issue #13).
        .merge(mcp::routes(&state));
    if telemetry.metrics_enabled {
        routes = routes.route("/metrics", get(metrics::scrape));
    }
    // `Router::layer` wraps each route after routing, so these layers see the matched route.
    let mut router = routes
        .fallback(|| async { error::ApiError::NotFound("Not Found".to_string()) })
        // FastAPI's JSON body for a known path with the wrong method, as the original answered.
        .method_not_allowed_fallback(|| async { error::ApiError::MethodNotAllowed })
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.server.max_body_bytes))
        .layer(cors(&config.server.allowed_origins))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_id::request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(CatchPanicLayer::custom(|_| {
            IntoResponse::into_response(error::ApiError::Internal(anyhow::anyhow!("handler panicked")))
        }));
    if telemetry.sentry_dsn.is_some() {
        // A hub per request (the user set on it stays with the request), and a transaction for the
        // traced share of requests.
        router = router
            .layer(sentry::integrations::tower::SentryHttpLayer::new().enable_transaction())
            .layer(sentry::integrations::tower::NewSentryLayer::<axum::extract::Request>::new_from_top());
    }
    if telemetry.metrics_enabled {
        // Outermost: a panic converted to a 500 is counted as one.
        router = router.layer(axum::middleware::from_fn(crate::telemetry::metrics::track_http));
    }
    router
        .layer(SetSensitiveRequestHeadersLayer::new(CREDENTIAL_HEADERS))
        // Outermost: no layer (Sentry's included) sees a client's request id unless it is adopted.
        .layer(MapRequestLayer::new(request_id::drop_unadoptable))
}

/// CORS as the original: the configured origins, credentials allowed, any method and header.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(Duration::from_secs(600))
}
