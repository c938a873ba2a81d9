//! The body of `POST /chat/stream` and its validation rules (the original pydantic `ChatRequest`):
//! a message of 1–10,000 characters, an optional session id, and an optional page context.
//! A request that breaks a rule is refused with 422 before any stream opens. One rule is stricter
//! than the original: a `session_id` that is not a UUID is a 422 here, where the original answered
//! 200 with an SSE `internal_error` ("Failed to create chat session."); clients only ever send back
//! the id of a `message_start`, so only a broken or hostile client sees the difference.

use serde::Deserialize;
use uuid::Uuid;

use super::error::ApiError;
use crate::chat::imports::{MAX_EXERCISE_COUNT, breaks_lines, source_url_problem, title_problem};
use crate::chat::request::{ChatContext, TurnRequest};

pub const MAX_MESSAGE_CHARS: usize = 10_000;
const MAX_PENDING_IMPORTS: usize = 20;

#[derive(Clone, Debug, Deserialize)]
pub struct ChatRequest {
    pub message: String,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub context: Option<ChatContext>,
}

impl ChatRequest {
    /// Checks every field rule (the first broken rule is the error) and gives the turn's request.
    pub fn validate(self) -> Result<TurnRequest, ApiError> {
        let chars = self.message.chars().count();
        if chars == 0 || self.message.trim().is_empty() {
            return Err(ApiError::Validation {
                field: "body.message".into(),
                message: "String should have at least 1 character".into(),
                kind: "string_too_short",
            });
        }
        if chars > MAX_MESSAGE_CHARS {
            return Err(ApiError::Validation {
                field: "body.message".into(),
                message: format!("String should have at most {MAX_MESSAGE_CHARS} characters"),
                kind: "string_too_long",
            });
        }
        if self.message.contains('\0') {
            // Postgres text cannot hold NUL: a clear 422 here rather than an opaque `internal_error`
            // event when the row is written.
            return Err(ApiError::validation("body.message", "String should not contain NUL (\\u0000) characters"));
        }
        if self.session_id.as_deref().is_some_and(|raw| !raw.trim().is_empty()) && self.session_uuid().is_none() {
            return Err(ApiError::Validation {
                field: "body.session_id".into(),
                message: "Input should be a valid UUID (the session_id of an earlier message_start)".into(),
                kind: "uuid_parsing",
            });
        }
        if let Some(ctx) = &self.context {
            validate_context(ctx)?;
        }
        Ok(TurnRequest { session_id: self.session_uuid(), message: self.message, context: self.context })
    }

    /// The session to continue: `None` for a new one (absent, null or blank, as the original took
    /// a falsy id). A malformed id is refused by [`ChatRequest::validate`], before any quota unit
    /// or row is spent on it.
    fn session_uuid(&self) -> Option<Uuid> {
        self.session_id.as_deref().map(str::trim).filter(|s| !s.is_empty()).and_then(|s| Uuid::parse_str(s).ok())
    }
}

/// The rules of the page context (the original's patterns and lengths).
fn validate_context(ctx: &ChatContext) -> Result<(), ApiError> {
    if let Some(page) = &ctx.current_page {
        if page.chars().count() > 50 {
            return Err(ApiError::validation("body.context.current_page", "String should have at most 50 characters"));
        }
        if page.chars().any(breaks_lines) {
            return Err(ApiError::validation(
                "body.context.current_page",
                "must not contain control characters or line breaks",
            ));
        }
    }
    if let Some(id) = &ctx.selected_workout_id
        && (id.is_empty() || id.len() > 100 || !id.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(ApiError::validation(
            "body.context.selected_workout_id",
            "String should match pattern '^[\\w-]+$' (at most 100 characters)",
        ));
    }
    if let Some(date) = &ctx.selected_date
        && !is_iso_date_shape(date)
    {
        return Err(ApiError::validation(
            "body.context.selected_date",
            "String should match pattern '^\\d{4}-\\d{2}-\\d{2}$'",
        ));
    }
    if let Some(imports) = &ctx.pending_imports {
        if imports.len() > MAX_PENDING_IMPORTS {
            return Err(ApiError::validation(
                "body.context.pending_imports",
                format!("List should have at most {MAX_PENDING_IMPORTS} items"),
            ));
        }
        // Each field ends up in the system prompt: the same rules as for an import a tool reports.
        for (i, import) in imports.iter().enumerate() {
            let field = |name: &str| format!("body.context.pending_imports.{i}.{name}");
            if let Some(problem) = source_url_problem(&import.source_url) {
                return Err(ApiError::validation(field("source_url"), problem));
            }
            if let Some(problem) = import.title.as_deref().and_then(title_problem) {
                return Err(ApiError::validation(field("title"), problem));
            }
            if import.exercise_count.is_some_and(|n| !(0..=MAX_EXERCISE_COUNT).contains(&n)) {
                return Err(ApiError::validation(
                    field("exercise_count"),
                    format!("Input should be between 0 and {MAX_EXERCISE_COUNT}"),
                ));
            }
        }
    }
    Ok(())
}

/// `^\d{4}-\d{2}-\d{2}$`, as the original checked (shape only).
fn is_iso_date_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10 && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> ChatRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn valid_requests_pass() {
        req(r#"{"message": "hi"}"#).validate().unwrap();
        req(r#"{"message": "hi", "session_id": null, "context": {"current_page": "calendar", "selected_date": "2026-02-01",
                "selected_workout_id": "w_abc-123", "pending_imports": [{"source_url": "https://youtu.be/x"}]}}"#)
        .validate()
        .unwrap();
    }

    #[test]
    fn message_length_is_bounded() {
        assert!(req(r#"{"message": ""}"#).validate().is_err());
        assert!(req(r#"{"message": "   "}"#).validate().is_err());
        let long = format!(r#"{{"message": "{}"}}"#, "a".repeat(10_001));
        assert!(req(&long).validate().is_err());
        let max = format!(r#"{{"message": "{}"}}"#, "é".repeat(10_000));
        req(&max).validate().unwrap();
    }

    #[test]
    fn session_ids_are_uuids_or_blank() {
        let id = Uuid::new_v4();
        let r = req(&format!(r#"{{"message": "x", "session_id": " {id} "}}"#));
        assert_eq!(r.validate().unwrap().session_id, Some(id));
        for blank in [r#""""#, r#"" ""#, "null"] {
            let r = req(&format!(r#"{{"message": "x", "session_id": {blank}}}"#));
            assert_eq!(r.validate().unwrap().session_id, None);
        }
        assert!(req(r#"{"message": "x", "session_id": "not-a-uuid"}"#).validate().is_err());
        assert!(req(r#"{"message": "x\u0000"}"#).validate().is_err());
    }

    #[test]
    fn context_fields_follow_their_patterns() {
        assert!(req(r#"{"message": "x", "context": {"selected_workout_id": "w 1"}}"#).validate().is_err());
        assert!(req(r#"{"message": "x", "context": {"selected_date": "2026-2-01"}}"#).validate().is_err());
        assert!(
            req(r#"{"message": "x", "context": {"current_page": "%s"}}"#.replace("%s", &"p".repeat(51)).as_str())
                .validate()
                .is_err()
        );
        assert!(req(r#"{"message": "x", "context": {"pending_imports": [{"source_url": ""}]}}"#).validate().is_err());
    }
}
