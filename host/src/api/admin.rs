//! The plugin admin API, behind `X-Internal-Key`: list the plugins (version, hash, functions,
//! limits, load time, call statistics, the last rejected load), reload one or all, roll one back
//! to its previous version, and upload a new plugin (`plugin.toml` text and the component, base64).
//!
//! The plugin set is shared through the database, so every instance serves the same uploads: an
//! upload is loaded completely, then stored as the plugin's active version in the database, then
//! written to `PLUGINS_DIR` and served; the other instances pick it up within
//! `PLUGINS_SYNC_SECONDS`. A database version overrides the directory's plugin of the same name.
//! A rollback of an uploaded plugin swaps its active and previous versions in the database (every
//! instance follows); a plugin only ever loaded from `PLUGINS_DIR` rolls back on this instance only.
//! A reload re-reads `PLUGINS_DIR`, then applies the database's active versions again.
//!
//! | Route | Does |
//! |---|---|
//! | `GET /admin/plugins` | the listing, and the database's active versions |
//! | `POST /admin/plugins` | upload `{"manifest": "<plugin.toml>", "wasm_base64": "…"}` |
//! | `POST /admin/plugins/reload` | reload every plugin from disk, then the database's versions |
//! | `POST /admin/plugins/{name}/reload` | reload one |
//! | `POST /admin/plugins/{name}/rollback` | swap back to the previous version |

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

use store::Store;
use tools::{Registry, RegistryError, ReloadReport};

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, InternalCaller};

/// The largest upload accepted: a 64 MiB component in base64, plus the manifest.
pub const MAX_UPLOAD_BYTES: usize = 90 << 20;

pub async fn list(
    _: InternalCaller,
    State(tools): State<Arc<Registry>>,
    State(store): State<Store>,
) -> impl IntoResponse {
    let plugins = tools.list().await;
    // What every instance converges on; null when the database cannot be read right now.
    let database = match (store.plugin_generation().await, store.plugin_active_set().await) {
        (Ok(generation), Ok(active)) => json!({ "generation": generation, "active": active }),
        (Err(err), _) | (_, Err(err)) => {
            tracing::warn!(error = %err, "cannot read the shared plugin set");
            serde_json::Value::Null
        }
    };
    Json(json!({
        "ready": tools.is_ready(),
        "pooling": tools.pooling(),
        "functions": tools.functions().len(),
        "plugins": plugins,
        "database": database,
    }))
}

pub async fn reload_all(_: InternalCaller, State(tools): State<Arc<Registry>>) -> impl IntoResponse {
    let reports = tools.reload_all(true).await;
    Json(json!({ "reports": reports }))
}

pub async fn reload(
    _: InternalCaller,
    State(tools): State<Arc<Registry>>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ReloadReport>, ApiError> {
    let report = tools.reload(&name).await.map_err(registry_error)?;
    Ok(Json(report))
}

pub async fn rollback(
    _: InternalCaller,
    State(tools): State<Arc<Registry>>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ReloadReport>, ApiError> {
    let report = tools.rollback(&name).await.map_err(registry_error)?;
    Ok(Json(report))
}

/// An uploaded plugin.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// The `plugin.toml` text.
    manifest: String,
    /// The component, base64 (standard alphabet, padded).
    wasm_base64: String,
}

pub async fn upload(
    _: InternalCaller,
    State(tools): State<Arc<Registry>>,
    ApiJson(upload): ApiJson<Upload>,
) -> Result<impl IntoResponse, ApiError> {
    let wasm = base64::engine::general_purpose::STANDARD
        .decode(upload.wasm_base64.trim())
        .map_err(|err| ApiError::validation("body.wasm_base64", format!("not base64: {err}")))?;
    let report = tools.install(upload.manifest, wasm).await.map_err(registry_error)?;
    Ok((StatusCode::CREATED, Json(report)))
}

fn registry_error(err: RegistryError) -> ApiError {
    match err {
        RegistryError::NotFound(_) => ApiError::NotFound(err.to_string()),
        RegistryError::NoPrevious(_) => ApiError::Conflict(err.to_string()),
        RegistryError::Rejected(load) => ApiError::Validation {
            field: format!("body.{}", load.stage.as_str()),
            message: load.message,
            kind: "plugin_rejected",
        },
        RegistryError::Io(message) => ApiError::Internal(anyhow::anyhow!(message)),
        RegistryError::Database(message) => {
            tracing::error!(error = %message, "the shared plugin set is unavailable");
            ApiError::ServiceUnavailable("The plugin database is unavailable".to_string())
        }
    }
}
