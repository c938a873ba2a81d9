//! The admin routes of the plugins' settings and secrets: the values manifests interpolate with
//! `${setting:NAME}` and `${secret:NAME}`, per plugin, set by operators with no host change and no
//! restart. Each change is stored in the database (a secret encrypted under `PLUGIN_SECRETS_KEY`),
//! reloads the plugin on this instance, and reaches the others within `PLUGINS_SYNC_SECONDS`.
//! Every change is recorded once in the audit log (the name, never the value); listings show a
//! secret's name and when it changed, never its value.
//!
//! | Route | Does | Audited as |
//! |---|---|---|
//! | `GET /admin/plugins/{name}/secrets` | names and `updated_at` | |
//! | `PUT /admin/plugins/{name}/secrets/{key}` | body: the value; set or rotate | `secret_set`, `secret_rotate` |
//! | `DELETE /admin/plugins/{name}/secrets/{key}` | delete | `secret_delete` |
//! | `GET /admin/plugins/{name}/settings` | names, values and `updated_at` | |
//! | `PUT /admin/plugins/{name}/settings/{key}` | body: the value; set or change | `setting_set`, `setting_change` |
//! | `DELETE /admin/plugins/{name}/settings/{key}` | delete | `setting_delete` |

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tools::{Registry, ValueKind, ValueReport};

use super::AppState;
use super::admin::registry_error;
use super::audit::{self, AuditAction, AuditOutcome, AuditSubject, Audited, AuditedRoute};
use super::error::ApiError;
use super::extract::{AdminCaller, ApiPath};

type Tools = State<Arc<Registry>>;
/// `{name}` (the plugin) and `{key}` (the value's name).
type ValuePath = ApiPath<(String, String)>;

/// The routes of both kinds.
pub fn routes(state: &AppState) -> Router<AppState> {
    let audited = |action| axum::middleware::from_fn_with_state(AuditedRoute::new(state, action), audit::audited);
    let mut router = Router::new();
    for kind in [ValueKind::Secret, ValueKind::Setting] {
        let (set, delete) = match kind {
            ValueKind::Secret => (AuditAction::SecretSet, AuditAction::SecretDelete),
            ValueKind::Setting => (AuditAction::SettingSet, AuditAction::SettingDelete),
        };
        let plural = format!("/admin/plugins/{{name}}/{}s", kind.as_str());
        router = router
            .route(
                &plural,
                get(move |caller: AdminCaller, tools: Tools, path: ApiPath<String>| list(kind, caller, tools, path)),
            )
            .route(
                &format!("{plural}/{{key}}"),
                axum::routing::put(move |caller: AdminCaller, tools: Tools, path: ValuePath, body: String| {
                    put(kind, caller, tools, path, body)
                })
                .route_layer(audited(set))
                .merge(
                    axum::routing::delete(move |caller: AdminCaller, tools: Tools, path: ValuePath| {
                        remove(kind, caller, tools, path)
                    })
                    .route_layer(audited(delete)),
                ),
            );
    }
    router
}

/// `GET …/{kind}s`: the plugin's values of that kind, by name (never a secret's value).
async fn list(
    kind: ValueKind,
    _: AdminCaller,
    State(tools): State<Arc<Registry>>,
    ApiPath(plugin): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let values = tools.list_values(&plugin, kind).await.map_err(registry_error)?;
    Ok(Json(json!({ "plugin": plugin, "kind": kind, "values": values })))
}

/// `PUT …/{kind}s/{key}`: the body (one trailing newline dropped) is the value.
async fn put(
    kind: ValueKind,
    _: AdminCaller,
    State(tools): State<Arc<Registry>>,
    ApiPath((plugin, name)): ApiPath<(String, String)>,
    body: String,
) -> Audited<Json<ValueReport>> {
    let value = body.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(&body);
    let result = tools.set_value(&plugin, kind, &name, value).await;
    let action = match (&result, kind) {
        (Ok(report), ValueKind::Secret) if !report.created => Some(AuditAction::SecretRotate),
        (Ok(report), ValueKind::Setting) if !report.created => Some(AuditAction::SettingChange),
        _ => None,
    };
    reported(kind, &plugin, &name, action, result)
}

/// `DELETE …/{kind}s/{key}`.
async fn remove(
    kind: ValueKind,
    _: AdminCaller,
    State(tools): State<Arc<Registry>>,
    ApiPath((plugin, name)): ApiPath<(String, String)>,
) -> Audited<Json<ValueReport>> {
    reported(kind, &plugin, &name, None, tools.delete_value(&plugin, kind, &name).await)
}

/// The answer, with its audit subject: the plugin, and the value's kind and name (never its value)
/// with what reloading the plugin here did.
fn reported(
    kind: ValueKind,
    plugin: &str,
    name: &str,
    action: Option<AuditAction>,
    result: Result<ValueReport, tools::RegistryError>,
) -> Audited<Json<ValueReport>> {
    let mut subject = AuditSubject { action, ..AuditSubject::plugin(plugin) };
    if let Ok(report) = &result {
        let mut detail = format!("{} {name}", kind.as_str());
        if let Some(reload) = &report.reload {
            subject.version = reload.version.clone();
            subject.sha256 = reload.sha256.clone();
            detail.push_str(&format!("; plugin {}", reload.outcome.as_str()));
            if let Some(error) = &reload.error {
                detail.push_str(&format!(": {}: {}", error.stage.as_str(), error.message));
            }
        }
        subject.detail = Some(detail);
        subject.outcome = Some(AuditOutcome::Succeeded);
    }
    Audited { subject, result: result.map(Json).map_err(registry_error) }
}
