//! Liveness and readiness. `/health` answers as long as the process serves HTTP; `/health/ready`
//! is 200 only when the database answers, the tool set is loaded and the service is not draining.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::app::AppState;

pub async fn live() -> impl IntoResponse {
    Json(json!({"status": "ok", "service": "chat-api"}))
}

pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let database_ok = matches!(tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await, Ok(Ok(())));
    let tools_ok = state.tools_ready();
    let draining = state.shutdown.is_draining();
    let ok = database_ok && tools_ok && !draining;
    let mut checks = json!({
        "supabase": if database_ok { "ok" } else { "unavailable" },
        "tools": if tools_ok { "ok" } else { "loading" },
    });
    if draining {
        checks["shutdown"] = json!("draining");
    }
    let body = json!({
        "status": if ok { "ready" } else { "not_ready" },
        "service": "chat-api",
        "checks": checks,
    });
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body))
}
