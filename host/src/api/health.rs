//! Liveness and readiness. `/health` answers as long as the process serves HTTP; `/health/ready`
//! is 200 only when the database answers, the tool set is loaded and the service is not draining.
//! Redis (`REDIS_URL`) is reported but never makes the instance unready: without it chat goes on
//! (degraded: no resume, no cross-instance stop), and pulling every instance would be an outage.

use std::time::Duration;

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use store::Store;
use tools::Registry;

use crate::chat::turn::TurnDeps;
use crate::shutdown::Shutdown;

pub async fn live() -> impl IntoResponse {
    Json(json!({"status": "ok", "service": "chat-api"}))
}

pub async fn ready(
    State(store): State<Store>,
    State(tools): State<Arc<Registry>>,
    State(shutdown): State<Shutdown>,
    State(turn_deps): State<TurnDeps>,
) -> impl IntoResponse {
    let database_ok = matches!(tokio::time::timeout(Duration::from_secs(2), store.ping()).await, Ok(Ok(())));
    let tools_ok = tools.is_ready();
    let draining = shutdown.is_draining();
    let ok = database_ok && tools_ok && !draining;
    let mut checks = json!({
        "supabase": if database_ok { "ok" } else { "unavailable" },
        "tools": if tools_ok { "ok" } else { "loading" },
    });
    if draining {
        checks["shutdown"] = json!("draining");
    }
    if let Some(redis_up) = turn_deps.live.redis_up().await {
        checks["redis"] =
            json!(if redis_up { "ok" } else { "unavailable (degraded: no resume or cross-instance stop)" });
    }
    let body = json!({
        "status": if ok { "ready" } else { "not_ready" },
        "service": "chat-api",
        "checks": checks,
    });
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body))
}
