//! The audit log of the admin plane: every admin action (an upload, activation, rollback, reload or
//! delete of a plugin; a plugin secret or setting set, changed or deleted) is recorded exactly once, refused
//! and failed ones included, with who acted (the [`KeyId`] of the key presented and the operator
//! name claimed in `X-Admin-Actor`), what, on which plugin version, how it ended and the request id.
//! `GET /admin/audit` reads it back, newest first.
//!
//! "Exactly once" holds by construction: each admin route that acts takes the [`audited`] layer
//! (built by [`AuditedRoute`]), which checks the admin key itself, runs the handler, and records
//! one entry from the answer, whatever happened (a refused key, a body that does not parse, a
//! rejected plugin, a database failure). Handlers say what they acted on by answering an
//! [`Audited`] (the [`AuditSubject`] rides in the response's extensions); they never record
//! themselves. Refused requests are recorded up to a budget per instance ([`RefusalBudget`]), so a
//! flood of bad keys cannot fill the database.
//!
//! Entries never hold a secret value: a subject names plugins, versions and hashes, and the detail
//! of a failure is what the client was told (the `detail` of the error body; an internal error is
//! "Internal server error" here too).

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use store::{AuditEntry, AuditQuery, NewAuditEntry, Store};

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminCaller, ApiQuery, KeyRefusal};
use crate::auth::service_key::KeyId;

/// What an admin action did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    /// A new plugin version uploaded (and made active).
    Upload,
    /// A stored version made active.
    Activate,
    Rollback,
    /// One plugin, or every plugin (no plugin named), loaded again.
    Reload,
    /// A plugin removed everywhere.
    Delete,
    /// A plugin secret given its first value.
    SecretSet,
    /// A plugin secret given a new value.
    SecretRotate,
    SecretDelete,
    /// A plugin setting given its first value.
    SettingSet,
    /// A plugin setting given a new value.
    SettingChange,
    SettingDelete,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Upload => "upload",
            AuditAction::Activate => "activate",
            AuditAction::Rollback => "rollback",
            AuditAction::Reload => "reload",
            AuditAction::Delete => "delete",
            AuditAction::SecretSet => "secret_set",
            AuditAction::SecretRotate => "secret_rotate",
            AuditAction::SecretDelete => "secret_delete",
            AuditAction::SettingSet => "setting_set",
            AuditAction::SettingChange => "setting_change",
            AuditAction::SettingDelete => "setting_delete",
        }
    }
}

/// How an admin action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditOutcome {
    Succeeded,
    /// The key was missing or wrong (or no admin key is configured): nothing was attempted.
    Refused,
    /// The request or the plugin did not pass validation: nothing changed.
    Rejected,
    NotFound,
    /// The current state does not allow it (nothing to roll back to).
    Conflict,
    /// The service could not do it (database unavailable, internal error).
    Failed,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Succeeded => "succeeded",
            AuditOutcome::Refused => "refused",
            AuditOutcome::Rejected => "rejected",
            AuditOutcome::NotFound => "not_found",
            AuditOutcome::Conflict => "conflict",
            AuditOutcome::Failed => "failed",
        }
    }

    /// The outcome an answer's status says.
    pub fn of_status(status: StatusCode) -> AuditOutcome {
        match status {
            s if s.is_success() => AuditOutcome::Succeeded,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => AuditOutcome::Refused,
            StatusCode::NOT_FOUND => AuditOutcome::NotFound,
            StatusCode::CONFLICT => AuditOutcome::Conflict,
            s if s.is_client_error() => AuditOutcome::Rejected,
            _ => AuditOutcome::Failed,
        }
    }
}

/// What a handler acted on, for its audit entry. Never a secret value.
#[derive(Clone, Debug, Default)]
pub struct AuditSubject {
    /// Overrides the route's action when the handler knows better (a secret set for the first time
    /// or rotated).
    pub action: Option<AuditAction>,
    pub plugin: Option<String>,
    pub version: Option<String>,
    pub sha256: Option<String>,
    /// Overrides the outcome the status says (a reload answered 200 whose plugin was rejected).
    pub outcome: Option<AuditOutcome>,
    pub detail: Option<String>,
}

impl AuditSubject {
    pub fn plugin(name: impl Into<String>) -> AuditSubject {
        AuditSubject { plugin: Some(name.into()), ..AuditSubject::default() }
    }
}

/// A handler's answer with the subject of its audit entry.
pub struct Audited<T> {
    pub subject: AuditSubject,
    pub result: Result<T, ApiError>,
}

impl<T: IntoResponse> IntoResponse for Audited<T> {
    fn into_response(self) -> Response {
        let mut response = self.result.into_response();
        response.extensions_mut().insert(self.subject);
        response
    }
}

/// An admin route that acts, and the action it performs: the state of [`audited`].
#[derive(Clone)]
pub struct AuditedRoute {
    state: AppState,
    action: AuditAction,
}

impl AuditedRoute {
    pub fn new(state: &AppState, action: AuditAction) -> AuditedRoute {
        AuditedRoute { state: state.clone(), action }
    }
}

/// The middleware of every admin route that acts: lets only the admin key through, runs the
/// handler, and records one audit entry for the request whatever its outcome.
pub async fn audited(State(route): State<AuditedRoute>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = AdminCaller::from_request_parts(&mut parts, &route.state).await;
    let request_id = super::request_id::of(&parts.headers).map(str::to_string);
    let path_plugin = RawPathParams::from_request_parts(&mut parts, &route.state)
        .await
        .ok()
        .and_then(|params| params.iter().find(|(key, _)| *key == "name").map(|(_, value)| value.to_string()));
    let request = Request::from_parts(parts, body);
    let (who, response, subject) = match caller {
        Ok(caller) => {
            let response = next.run(request).await;
            let subject = response.extensions().get::<AuditSubject>().cloned().unwrap_or_default();
            (Who::Admin(caller), response, subject)
        }
        Err(KeyRefusal { error, presented }) => {
            (Who::Refused(presented), error.into_response(), AuditSubject::default())
        }
    };
    let (response, told) = match subject.detail {
        None if !response.status().is_success() => error_detail(response).await,
        _ => (response, None),
    };
    let subject = AuditSubject {
        plugin: subject.plugin.clone().or(path_plugin),
        detail: subject.detail.clone().or(told),
        ..subject
    };
    let outcome = subject.outcome.unwrap_or_else(|| AuditOutcome::of_status(response.status()));
    let action = subject.action.unwrap_or(route.action);
    record(&route.state.store, &who, action, &subject, outcome, request_id.as_deref()).await;
    response
}

/// The largest error body read for its `detail`.
const MAX_ERROR_BODY: usize = 64 << 10;

/// The `detail` an error answer told the client (`loc: msg` of the first problem of a validation
/// error), and the answer, unchanged.
async fn error_detail(response: Response) -> (Response, Option<String>) {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY).await else {
        return (Response::from_parts(parts, axum::body::Body::empty()), None);
    };
    let detail = serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|body| match &body["detail"] {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Array(problems) => {
            let first = problems.first()?;
            let loc: Vec<String> =
                first["loc"].as_array()?.iter().map(|part| part.to_string().replace('"', "")).collect();
            Some(format!("{}: {}", loc.join("."), first["msg"].as_str()?))
        }
        _ => None,
    });
    (Response::from_parts(parts, axum::body::Body::from(bytes)), detail)
}

/// Who made an admin request.
#[derive(Clone, Debug)]
pub enum Who {
    /// An operator holding the admin key.
    Admin(AdminCaller),
    /// A request refused at the door, with the id of the key it presented, if any.
    Refused(Option<KeyId>),
}

/// Records one admin action. The admin routes' [`audited`] layer calls it for every request; call
/// it directly only for an admin action that does not come through such a route. Every action is
/// also logged (`admin action`), so a failure to write (logged as an error) never loses it, and
/// never fails the action.
pub async fn record(
    store: &Store,
    who: &Who,
    action: AuditAction,
    subject: &AuditSubject,
    outcome: AuditOutcome,
    request_id: Option<&str>,
) {
    let (key_id, actor) = match who {
        Who::Admin(caller) => (Some(caller.key_id.as_str()), caller.actor.as_deref()),
        Who::Refused(presented) => (presented.as_ref().map(KeyId::as_str), None),
    };
    let entry = NewAuditEntry {
        key_id,
        actor,
        action: action.as_str(),
        plugin: subject.plugin.as_deref().map(|text| bounded(text, MAX_FIELD_CHARS)),
        version: subject.version.as_deref().map(|text| bounded(text, MAX_FIELD_CHARS)),
        sha256: subject.sha256.as_deref().map(|text| bounded(text, MAX_FIELD_CHARS)),
        outcome: outcome.as_str(),
        detail: subject.detail.as_deref().map(|text| bounded(text, MAX_DETAIL_CHARS)),
        request_id: request_id.map(|text| bounded(text, MAX_FIELD_CHARS)),
    };
    tracing::info!(
        key_id = ?entry.key_id, actor = ?entry.actor, action = entry.action, plugin = ?entry.plugin,
        version = ?entry.version, sha256 = ?entry.sha256, outcome = entry.outcome, detail = ?entry.detail,
        "admin action"
    );
    if matches!(who, Who::Refused(_)) && !REFUSALS.admit() {
        tracing::warn!(per_minute = REFUSALS_PER_MINUTE, "too many refused admin requests: this one is only logged");
        return;
    }
    if let Err(err) = store.audit_record(&entry).await {
        tracing::error!(error = %err, action = entry.action, plugin = ?entry.plugin, "cannot write the audit log");
    }
}

/// The longest plugin name, version, hash or request id recorded (a hostile path is cut short).
const MAX_FIELD_CHARS: usize = 200;
/// The longest detail recorded.
const MAX_DETAIL_CHARS: usize = 2_000;

/// `text` cut to at most `max` characters.
fn bounded(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// How many refused requests each instance records per minute; more are only logged.
const REFUSALS_PER_MINUTE: u32 = 120;

static REFUSALS: RefusalBudget = RefusalBudget::new(REFUSALS_PER_MINUTE, Duration::from_secs(60));

/// A fixed-window budget of refused requests worth a database row: anyone on the internet can send
/// a wrong key, and the audit log must not become their way to fill the database.
pub struct RefusalBudget {
    per_window: u32,
    window: Duration,
    used: parking_lot::Mutex<Option<(Instant, u32)>>,
}

impl RefusalBudget {
    pub const fn new(per_window: u32, window: Duration) -> RefusalBudget {
        RefusalBudget { per_window, window, used: parking_lot::const_mutex(None) }
    }

    /// Whether one more refusal fits in the current window.
    pub fn admit(&self) -> bool {
        let now = Instant::now();
        let mut used = self.used.lock();
        let (started, count) = match *used {
            Some((started, count)) if now.duration_since(started) < self.window => (started, count),
            _ => (now, 0),
        };
        let admitted = count < self.per_window;
        *used = Some((started, count + u32::from(admitted)));
        admitted
    }
}

/// The query of `GET /admin/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    /// Only this plugin's entries.
    plugin: Option<String>,
    /// Entries older than this id (the `next_before` of the previous page).
    before: Option<i64>,
    /// Entries per page: 50 by default, at most 500.
    limit: Option<u32>,
}

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// `GET /admin/audit`: the newest entries first; `next_before` is the cursor of the next page
/// (`null` on the last one).
pub async fn list(
    _: AdminCaller,
    State(store): State<Store>,
    ApiQuery(page): ApiQuery<AuditPage>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = page.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation("query.limit", format!("between 1 and {MAX_PAGE}")));
    }
    let entries: Vec<AuditEntry> =
        store.audit_entries(&AuditQuery { plugin: page.plugin.as_deref(), before: page.before, limit }).await?;
    let next_before = (entries.len() == limit as usize).then(|| entries.last().map(|e| e.id)).flatten();
    Ok(Json(json!({ "entries": entries, "next_before": next_before })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_the_status_of_the_answer() {
        for (status, outcome) in [
            (StatusCode::OK, AuditOutcome::Succeeded),
            (StatusCode::CREATED, AuditOutcome::Succeeded),
            (StatusCode::UNAUTHORIZED, AuditOutcome::Refused),
            (StatusCode::FORBIDDEN, AuditOutcome::Refused),
            (StatusCode::NOT_FOUND, AuditOutcome::NotFound),
            (StatusCode::CONFLICT, AuditOutcome::Conflict),
            (StatusCode::UNPROCESSABLE_ENTITY, AuditOutcome::Rejected),
            (StatusCode::PAYLOAD_TOO_LARGE, AuditOutcome::Rejected),
            (StatusCode::SERVICE_UNAVAILABLE, AuditOutcome::Failed),
            (StatusCode::INTERNAL_SERVER_ERROR, AuditOutcome::Failed),
        ] {
            assert_eq!(AuditOutcome::of_status(status), outcome, "{status}");
        }
    }

    #[test]
    fn the_refusal_budget_admits_so_many_per_window_then_starts_again() {
        let budget = RefusalBudget::new(3, Duration::from_millis(200));
        let admitted: Vec<bool> = (0..5).map(|_| budget.admit()).collect();
        assert_eq!(admitted, [true, true, true, false, false]);
        std::thread::sleep(Duration::from_millis(250));
        assert!(budget.admit(), "a new window");
    }

    #[test]
    fn long_fields_are_cut_on_a_character_boundary() {
        assert_eq!(bounded("echo", MAX_FIELD_CHARS), "echo");
        let long = "é".repeat(300);
        assert_eq!(bounded(&long, MAX_FIELD_CHARS).chars().count(), MAX_FIELD_CHARS);
    }

    async fn detail_of(error: ApiError) -> Option<String> {
        let (response, detail) = error_detail(error.into_response()).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ERROR_BODY).await.unwrap();
        assert!(!bytes.is_empty(), "the answer keeps its body ({status})");
        detail
    }

    #[tokio::test]
    async fn the_detail_is_what_the_client_was_told() {
        let internal = ApiError::internal(anyhow::anyhow!("connection to db.internal:5432 refused"));
        assert_eq!(detail_of(internal).await.as_deref(), Some("Internal server error"));
        let missing = ApiError::NotFound("no plugin named x".into());
        assert_eq!(detail_of(missing).await.as_deref(), Some("no plugin named x"));
        let invalid = ApiError::validation("body.manifest", "Field required");
        assert_eq!(detail_of(invalid).await.as_deref(), Some("body.manifest: Field required"));
    }
}
