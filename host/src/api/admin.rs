//! The plugin admin API, the operators' plane: every route takes `ADMIN_API_KEY` ([`AdminCaller`]),
//! which no other key opens, and every route that acts is recorded in the audit log exactly once
//! ([`super::audit`]). List the plugins (version, hash, functions, limits, load time, call
//! statistics, the last rejected load), reload one or all, roll one back to its previous version,
//! upload a new plugin (`plugin.toml` text and the component, base64), remove one everywhere, and
//! read the audit log.
//!
//! The plugin set is shared through the database, so every instance serves the same uploads: an
//! upload is loaded completely, then stored as the plugin's active version in the database, then
//! written to `PLUGINS_DIR` and served; the other instances pick it up within
//! `PLUGINS_SYNC_SECONDS`. A database version overrides the directory's plugin of the same name.
//! A rollback of an uploaded plugin swaps its active and previous versions in the database (every
//! instance follows); a plugin only ever loaded from `PLUGINS_DIR` rolls back on this instance only.
//! A reload re-reads `PLUGINS_DIR`, then applies the database's active versions again. A delete
//! removes the plugin's files here and its active entry in the database, and every instance drops
//! it, until it is uploaded again; its stored versions stay.
//!
//! | Route | Does | Audited as |
//! |---|---|---|
//! | `GET /admin/plugins` | the listing, and the database's active versions | |
//! | `POST /admin/plugins` | upload `{"manifest": "<plugin.toml>", "wasm_base64": "…", "signature": "<plugin.sig>"}` | `upload` |
//! | `POST /admin/plugins/reload` | reload every plugin from disk, then the database's versions | `reload` |
//! | `POST /admin/plugins/{name}/reload` | reload one | `reload` |
//! | `POST /admin/plugins/{name}/rollback` | swap back to the previous version | `rollback` |
//! | `DELETE /admin/plugins/{name}` | remove the plugin everywhere, keeping its history | `delete` |
//! | `GET /admin/audit` | the audit log, newest first (`?plugin=`, `?before=`, `?limit=`) | |

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use store::Store;
use tools::{Registry, RegistryError, ReloadOutcome, ReloadReport};

use super::AppState;
use super::audit::{self, AuditAction, AuditOutcome, AuditSubject, Audited, AuditedRoute};
use super::error::ApiError;
use super::extract::{AdminCaller, ApiJson, ApiPath};

/// The largest upload accepted: a 64 MiB component in base64, plus the manifest.
pub const MAX_UPLOAD_BYTES: usize = 90 << 20;

/// The admin routes, each acting one behind the audit layer.
pub fn routes(state: &AppState) -> Router<AppState> {
    let audited = |action| axum::middleware::from_fn_with_state(AuditedRoute::new(state, action), audit::audited);
    Router::new()
        .route(
            "/admin/plugins",
            post(upload)
                .route_layer(audited(AuditAction::Upload))
                .get(list)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route(
            "/admin/plugins/reload",
            post(reload_all)
                .route_layer(audited(AuditAction::Reload))
                // The path of the plugin named `reload` too.
                .merge(delete(remove_the_plugin_named_reload).route_layer(audited(AuditAction::Delete))),
        )
        .route("/admin/plugins/{name}", delete(remove).route_layer(audited(AuditAction::Delete)))
        .route("/admin/plugins/{name}/reload", post(reload).route_layer(audited(AuditAction::Reload)))
        .route("/admin/plugins/{name}/rollback", post(rollback).route_layer(audited(AuditAction::Rollback)))
        .route("/admin/audit", get(audit::list))
}

pub async fn list(_: AdminCaller, State(tools): State<Arc<Registry>>, State(store): State<Store>) -> impl IntoResponse {
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

pub async fn reload_all(_: AdminCaller, State(tools): State<Arc<Registry>>) -> Audited<Json<serde_json::Value>> {
    let reports = tools.reload_all(true).await;
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for report in &reports {
        *outcomes.entry(report.outcome.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = outcomes.iter().map(|(outcome, count)| format!("{count} {outcome}")).collect();
    let subject = AuditSubject { detail: Some(summary.join(", ")), ..AuditSubject::default() };
    Audited { subject, result: Ok(Json(json!({ "reports": reports }))) }
}

pub async fn reload(
    _: AdminCaller,
    State(tools): State<Arc<Registry>>,
    ApiPath(name): ApiPath<String>,
) -> Audited<Json<ReloadReport>> {
    reported(&name, tools.reload(&name).await)
}

pub async fn rollback(
    _: AdminCaller,
    State(tools): State<Arc<Registry>>,
    ApiPath(name): ApiPath<String>,
) -> Audited<Json<ReloadReport>> {
    reported(&name, tools.rollback(&name).await)
}

/// `DELETE /admin/plugins/{name}`: removes the plugin here, in the database, and so on every instance.
pub async fn remove(
    _: AdminCaller,
    State(tools): State<Arc<Registry>>,
    ApiPath(name): ApiPath<String>,
) -> Audited<Json<ReloadReport>> {
    reported(&name, tools.remove(&name).await)
}

/// `DELETE /admin/plugins/reload`: `reload` is a valid plugin name, and its path is also the
/// reload-all route's.
async fn remove_the_plugin_named_reload(
    caller: AdminCaller,
    tools: State<Arc<Registry>>,
) -> Audited<Json<ReloadReport>> {
    remove(caller, tools, ApiPath("reload".to_string())).await
}

/// The answer to an operation on plugin `name`, with what it acted on: the version its report
/// names, and a rejected load as a rejection even when the answer is a 200 (a reload that failed).
fn reported(name: &str, result: Result<ReloadReport, RegistryError>) -> Audited<Json<ReloadReport>> {
    let subject = match &result {
        Ok(report) => AuditSubject {
            plugin: Some(report.plugin.clone().unwrap_or_else(|| name.to_string())),
            version: report.version.clone(),
            sha256: report.sha256.clone(),
            outcome: (report.outcome == ReloadOutcome::Rejected).then_some(AuditOutcome::Rejected),
            detail: report.error.as_ref().map(|e| format!("{}: {}", e.stage.as_str(), e.message)),
            action: None,
        },
        Err(_) => AuditSubject::plugin(name),
    };
    Audited { subject, result: result.map(Json).map_err(registry_error) }
}

/// An uploaded plugin.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// The `plugin.toml` text.
    manifest: String,
    /// The component, base64 (standard alphabet, padded).
    wasm_base64: String,
    /// The `plugin.sig` text (minisign), required under `PLUGIN_SIGNATURES=enforce`.
    #[serde(default)]
    signature: Option<String>,
}

pub async fn upload(
    _: AdminCaller,
    State(tools): State<Arc<Registry>>,
    ApiJson(upload): ApiJson<Upload>,
) -> Audited<(StatusCode, Json<ReloadReport>)> {
    // What the upload claims to be, for the audit entry of an upload that is refused.
    let (plugin, version) = claimed(&upload.manifest);
    let mut subject = AuditSubject { plugin, version, ..AuditSubject::default() };
    let wasm = match base64::engine::general_purpose::STANDARD.decode(upload.wasm_base64.trim()) {
        Ok(wasm) => wasm,
        Err(err) => {
            let result = Err(ApiError::validation("body.wasm_base64", format!("not base64: {err}")));
            return Audited { subject, result };
        }
    };
    subject.sha256 = Some(hex::encode(Sha256::digest(&wasm)));
    let result = tools.install(upload.manifest, wasm, upload.signature).await;
    if let Ok(report) = &result {
        subject.plugin = report.plugin.clone().or(subject.plugin);
        subject.version = report.version.clone();
    }
    Audited { subject, result: result.map(|report| (StatusCode::CREATED, Json(report))).map_err(registry_error) }
}

/// The `name` and `version` a manifest text claims, if it is TOML with them.
fn claimed(manifest: &str) -> (Option<String>, Option<String>) {
    let table: toml::Table = toml::from_str(manifest).unwrap_or_default();
    let text = |key: &str| table.get(key).and_then(toml::Value::as_str).map(str::to_string);
    (text("name"), text("version"))
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
