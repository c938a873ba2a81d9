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
//! | `GET /admin/plugins` | the listing, the loads in progress, and the database's active versions | |
//! | `POST /admin/plugins` | upload `{"manifest": "<plugin.toml>", "wasm_base64": "…", "signature": "<plugin.sig>"}` (413 over the caps, 409 while the plugin loads) | `upload` |
//! | `POST /admin/plugins/reload` | reload every plugin from disk, then the database's versions | `reload` |
//! | `POST /admin/plugins/{name}/reload` | reload one | `reload` |
//! | `POST /admin/plugins/{name}/rollback` | swap back to the previous version | `rollback` |
//! | `DELETE /admin/plugins/{name}` | remove the plugin everywhere, keeping its history | `delete` |
//! | `GET /admin/audit` | the audit log, newest first (`?plugin=`, `?before=`, `?limit=`) | |
//!
//! The plugins' settings and secrets have their own routes ([`super::plugin_values`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_LENGTH;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use store::Store;
use tools::{MAX_MANIFEST_BYTES, MAX_WASM_BYTES, Registry, RegistryError, ReloadOutcome, ReloadReport, oversized};

use super::AppState;
use super::audit::{self, AuditAction, AuditOutcome, AuditSubject, Audited, AuditedRoute};
use super::error::ApiError;
use super::extract::{AdminCaller, ApiJson, ApiPath};

/// The largest upload body read: the largest component in base64, plus the largest manifest even if
/// every character of it were JSON-escaped (`\u0000`), plus room for the object around them. The
/// body is read up to this and no further; each part is then held to its own cap before decoding.
pub const MAX_UPLOAD_BYTES: usize = MAX_WASM_BYTES.div_ceil(3) * 4 + 6 * MAX_MANIFEST_BYTES + 4096;

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
        "loading": tools.loading(),
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

/// A request whose declared `Content-Length` is within [`MAX_UPLOAD_BYTES`]: one that claims more is
/// refused from its head, before a byte of its body is read (the body limit alone would read up to
/// the limit first, and wait for a body that never comes).
pub struct DeclaredWithinLimit;

impl<S: Send + Sync> FromRequestParts<S> for DeclaredWithinLimit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        match declared {
            Some(length) if length > MAX_UPLOAD_BYTES as u64 => Err(ApiError::PayloadTooLarge),
            _ => Ok(DeclaredWithinLimit),
        }
    }
}

pub async fn upload(
    _: AdminCaller,
    State(tools): State<Arc<Registry>>,
    _: DeclaredWithinLimit,
    ApiJson(upload): ApiJson<Upload>,
) -> Audited<(StatusCode, Json<ReloadReport>)> {
    // Each part held to its cap before it is parsed or decoded.
    let wasm_base64 = upload.wasm_base64.trim();
    if let Some(too_large) = oversized(upload.manifest.len() as u64, decoded_len(wasm_base64)) {
        return Audited { subject: AuditSubject::default(), result: Err(ApiError::PartTooLarge(too_large)) };
    }
    // What the upload claims to be, for the audit entry of an upload that is refused.
    let (plugin, version) = claimed(&upload.manifest);
    let mut subject = AuditSubject { plugin, version, ..AuditSubject::default() };
    let wasm = match base64::engine::general_purpose::STANDARD.decode(wasm_base64) {
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

/// How many bytes padded base64 `text` decodes to (exact when it is valid), without decoding it.
fn decoded_len(text: &str) -> u64 {
    let padding = text.bytes().rev().take_while(|b| *b == b'=').count().min(2);
    (text.len().div_ceil(4) * 3).saturating_sub(padding) as u64
}

/// The `name` and `version` a manifest text claims, if it is TOML with them.
fn claimed(manifest: &str) -> (Option<String>, Option<String>) {
    let table: toml::Table = toml::from_str(manifest).unwrap_or_default();
    let text = |key: &str| table.get(key).and_then(toml::Value::as_str).map(str::to_string);
    (text("name"), text("version"))
}

/// The answer to a registry error (shared with [`super::plugin_values`]).
pub(super) fn registry_error(err: RegistryError) -> ApiError {
    match err {
        RegistryError::NotFound(_) => ApiError::NotFound(err.to_string()),
        RegistryError::NoPrevious(_) | RegistryError::Busy { .. } => ApiError::Conflict(err.to_string()),
        RegistryError::TooLarge(message) => ApiError::PartTooLarge(message),
        RegistryError::Rejected(load) => ApiError::Validation {
            field: format!("body.{}", load.stage.as_str()),
            message: load.message,
            kind: "plugin_rejected",
        },
        RegistryError::Invalid(message) => ApiError::validation("path", message),
        RegistryError::Io(message) => ApiError::Internal(anyhow::anyhow!(message)),
        RegistryError::Database(message) => {
            tracing::error!(error = %message, "the shared plugin set is unavailable");
            ApiError::ServiceUnavailable("The plugin database is unavailable".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoded_length_of_base64_is_known_without_decoding_it() {
        for len in [0, 1, 2, 3, 4, 5, 6, 64, 1000] {
            let text = base64::engine::general_purpose::STANDARD.encode(vec![7u8; len]);
            assert_eq!(decoded_len(&text), len as u64, "{len} bytes");
        }
    }

    #[test]
    fn the_upload_limit_holds_the_largest_parts() {
        let largest = serde_json::json!({
            "manifest": "\u{0}".repeat(MAX_MANIFEST_BYTES),
            "wasm_base64": "A".repeat(MAX_WASM_BYTES.div_ceil(3) * 4),
        });
        assert!(largest.to_string().len() <= MAX_UPLOAD_BYTES);
    }
}
