//! The events of `POST /chat/stream`, with the payloads and messages of the original service
//! (`original-contract.md` §2.2 and §2.4). Field order follows the original's dicts.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An import the user has previewed but not saved yet; the client sends the list back with the next
/// message and the model is told not to import again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingImport {
    pub source_url: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub exercise_count: Option<i64>,
}

/// One event sent to the client.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ChatEvent {
    MessageStart(MessageStart),
    ContentDelta(ContentDelta),
    FunctionCall(FunctionCall),
    Heartbeat(Heartbeat),
    FunctionResult(FunctionResult),
    MessageEnd(MessageEnd),
    Error(ErrorEvent),
}

impl ChatEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            ChatEvent::MessageStart(_) => "message_start",
            ChatEvent::ContentDelta(_) => "content_delta",
            ChatEvent::FunctionCall(_) => "function_call",
            ChatEvent::Heartbeat(_) => "heartbeat",
            ChatEvent::FunctionResult(_) => "function_result",
            ChatEvent::MessageEnd(_) => "message_end",
            ChatEvent::Error(_) => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageStart {
    pub session_id: Uuid,
    /// The turn (`GET /chat/turns/{turn_id}/events` resumes it, `…/stop` stops it); clients that
    /// ignore unknown fields are unaffected.
    pub turn_id: String,
    /// The turn's OpenTelemetry trace id, only while its span is recording (the original's field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContentDelta {
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionCall {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Heartbeat {
    pub status: &'static str,
    pub tool_name: String,
    pub elapsed_seconds: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionResult {
    pub tool_use_id: String,
    pub name: String,
    /// Always a string, often JSON text.
    pub result: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageEnd {
    pub session_id: Uuid,
    /// Input plus output tokens of every Claude call of the turn.
    pub tokens_used: u64,
    /// Sum of the Claude calls' latencies.
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_imports: Option<Vec<PendingImport>>,
    /// `true` when the user stopped the turn (`POST /chat/turns/{turn_id}/stop`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<bool>,
}

/// The `type` of an `error` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    FeatureDisabled,
    RateLimitExceeded,
    NotFound,
    InternalError,
    RateLimit,
    ApiError,
    /// The service is shutting down (SIGTERM) and ended the stream; a new request will be served
    /// by another instance.
    ServiceUnavailable,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorEvent {
    #[serde(rename = "type")]
    pub kind: ErrorType,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<i64>,
}

impl ErrorEvent {
    fn plain(kind: ErrorType, message: &str) -> ChatEvent {
        ChatEvent::Error(ErrorEvent { kind, message: message.to_string(), usage: None, limit: None, retry_after: None })
    }

    pub fn feature_disabled() -> ChatEvent {
        Self::plain(ErrorType::FeatureDisabled, "Chat is not available for your account. Please check back later.")
    }

    pub fn rate_limit_exceeded(usage: i64, limit: i64, retry_after: i64) -> ChatEvent {
        ChatEvent::Error(ErrorEvent {
            kind: ErrorType::RateLimitExceeded,
            message: format!("Monthly message limit ({limit}) reached. Upgrade for more."),
            usage: Some(usage),
            limit: Some(limit),
            retry_after: Some(retry_after),
        })
    }

    pub fn session_not_found() -> ChatEvent {
        Self::plain(ErrorType::NotFound, "Chat session not found.")
    }

    pub fn session_failed() -> ChatEvent {
        Self::plain(ErrorType::InternalError, "Failed to create chat session.")
    }

    pub fn ai_busy() -> ChatEvent {
        Self::plain(ErrorType::RateLimit, "AI service is busy. Please try again shortly.")
    }

    pub fn ai_error() -> ChatEvent {
        Self::plain(ErrorType::ApiError, "AI service error. Please try again.")
    }

    pub fn unexpected() -> ChatEvent {
        Self::plain(ErrorType::InternalError, "An unexpected error occurred.")
    }

    /// The user already has `limit` turns running (the `rate_limit` type clients retry on).
    pub fn too_many_turns(limit: usize) -> ChatEvent {
        let message =
            format!("You already have {limit} replies in progress. Please wait for one to finish and try again.");
        Self::plain(ErrorType::RateLimit, &message)
    }

    /// The instance running the turn died; another one closed the turn (its lease ran out).
    pub fn instance_lost() -> ChatEvent {
        Self::plain(ErrorType::ServiceUnavailable, "The reply was interrupted. Please send your message again.")
    }

    pub fn shutting_down() -> ChatEvent {
        Self::plain(ErrorType::ServiceUnavailable, "The service is restarting. Please send your message again.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::sse::python_json;

    #[test]
    fn rate_limit_payload_matches_the_original() {
        let ChatEvent::Error(e) = ErrorEvent::rate_limit_exceeded(50, 50, 777_600) else { unreachable!() };
        assert_eq!(
            python_json(&e),
            r#"{"type": "rate_limit_exceeded", "message": "Monthly message limit (50) reached. Upgrade for more.", "usage": 50, "limit": 50, "retry_after": 777600}"#
        );
    }

    #[test]
    fn message_end_omits_absent_pending_imports() {
        let end = ChatEvent::MessageEnd(MessageEnd {
            session_id: Uuid::nil(),
            tokens_used: 3,
            latency_ms: 4,
            pending_imports: None,
            stopped: None,
        });
        assert_eq!(
            python_json(&end),
            r#"{"session_id": "00000000-0000-0000-0000-000000000000", "tokens_used": 3, "latency_ms": 4}"#
        );
    }
}
