//! The one error type of the Anthropic client. It classifies every failure the way the chat loop
//! needs it: retryable or not, and which client-visible `error.type` (`rate_limit` / `api_error`,
//! original contract §2.4) it becomes. Mid-stream errors are classified by Anthropic's `error.type`,
//! never by the HTTP status of the stream (which is 200).

use std::time::Duration;

use serde_json::Value;

/// The body of an Anthropic error (`{"type":"error","error":{"type","message","details"?}}`), both
/// as an HTTP error response and as a mid-stream `error` event.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default, rename = "type")]
    pub error_type: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Option<Value>,
}

/// `error.details.error_code` of a 429 that means the organisation's monthly spend cap is reached:
/// it lasts until the next month, so it is never retried.
pub const SPEND_LIMIT_ERROR_CODE: &str = "enforced_spend_limit_reached";

/// The longest upstream error message kept in an [`LlmError`] (they end up in logs).
const MAX_MESSAGE_CHARS: usize = 300;

/// Why a call to Anthropic failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// HTTP 429 or a `rate_limit_error` event. `spend_limit` marks the monthly spend cap.
    #[error("Anthropic rate limit{} (request {})", spend_limit_note(*spend_limit), shown(request_id))]
    RateLimited { retry_after: Option<Duration>, spend_limit: bool, request_id: Option<String> },
    /// HTTP 529 or an `overloaded_error` event: global load, not our quota.
    #[error("Anthropic is overloaded (request {})", shown(request_id))]
    Overloaded { request_id: Option<String> },
    /// Any other error Anthropic reported. `status` is `None` for a mid-stream `error` event.
    #[error("Anthropic {error_type}{}: {message} (request {})", status_note(*status), shown(request_id))]
    Api { status: Option<u16>, error_type: String, message: String, request_id: Option<String> },
    /// The request or the response body failed at the transport level.
    #[error("connection to Anthropic failed: {0}")]
    Connection(String),
    /// No response headers, or no bytes of the stream, within the stall timeout.
    #[error("Anthropic sent nothing within the stall timeout")]
    Timeout,
    /// The event stream ended without `message_stop`.
    #[error("the Anthropic stream ended without message_stop")]
    StreamEnded,
    /// The response could not be understood (not an event stream, malformed event JSON).
    #[error("could not decode the Anthropic response: {0}")]
    Decode(String),
    /// The OpenAI fallback failed too (`status` is `None` for a transport or stream failure). It
    /// is the last provider, so it is never retried.
    #[error("OpenAI fallback failed{}: {message}", status_note(*status))]
    OpenAi { status: Option<u16>, message: String },
}

fn shown(request_id: &Option<String>) -> &str {
    request_id.as_deref().unwrap_or("-")
}

fn spend_limit_note(spend_limit: bool) -> &'static str {
    if spend_limit { " (monthly spend limit reached)" } else { "" }
}

fn status_note(status: Option<u16>) -> String {
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

impl LlmError {
    /// Whether a fresh attempt of the same request may succeed. The client retries these itself
    /// before the HTTP 200; after it, the caller decides (only while nothing reached its client).
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::RateLimited { spend_limit, .. } => !spend_limit,
            LlmError::Overloaded { .. } | LlmError::Connection(_) | LlmError::Timeout | LlmError::StreamEnded => true,
            LlmError::Api { status, error_type, .. } => match status {
                Some(status) => is_retryable_status(*status),
                None => matches!(error_type.as_str(), "api_error" | "timeout_error"),
            },
            LlmError::Decode(_) | LlmError::OpenAi { .. } => false,
        }
    }

    /// The `type` of the SSE `error` event the chat client receives (original contract §2.4).
    pub fn client_error_type(&self) -> &'static str {
        match self {
            LlmError::RateLimited { .. } | LlmError::OpenAi { status: Some(429), .. } => "rate_limit",
            _ => "api_error",
        }
    }

    /// Anthropic's `request-id` of the failed response, when there was one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            LlmError::RateLimited { request_id, .. }
            | LlmError::Overloaded { request_id }
            | LlmError::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// How long Anthropic asked us to wait (`retry-after`), when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short label for logs and metrics (`rate_limit`, `overloaded`, `api_error`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::RateLimited { spend_limit: true, .. } => "spend_limit",
            LlmError::RateLimited { .. } => "rate_limit",
            LlmError::Overloaded { .. } => "overloaded",
            LlmError::Api { .. } => "api_error",
            LlmError::Connection(_) => "connection",
            LlmError::Timeout => "timeout",
            LlmError::StreamEnded => "stream_ended",
            LlmError::Decode(_) => "decode",
            LlmError::OpenAi { .. } => "openai",
        }
    }

    /// Classifies an Anthropic error body. `status` is the HTTP status of an error response, or
    /// `None` for a mid-stream `error` event; the body's `error.type` wins over the status.
    pub(crate) fn from_error_body(
        status: Option<u16>,
        body: ErrorBody,
        retry_after: Option<Duration>,
        request_id: Option<String>,
    ) -> LlmError {
        let ErrorDetail { error_type, message, details } = body.error;
        let spend_limit = details
            .as_ref()
            .and_then(|d| d.get("error_code"))
            .and_then(Value::as_str)
            .is_some_and(|code| code == SPEND_LIMIT_ERROR_CODE);
        match (error_type.as_str(), status) {
            ("rate_limit_error", _) | (_, Some(429)) => LlmError::RateLimited {
                retry_after: if spend_limit { None } else { retry_after },
                spend_limit,
                request_id,
            },
            ("overloaded_error", _) | (_, Some(529)) => LlmError::Overloaded { request_id },
            _ => LlmError::Api {
                status,
                error_type: if error_type.is_empty() { "unknown_error".to_string() } else { error_type },
                message: truncate_chars(&message, MAX_MESSAGE_CHARS),
                request_id,
            },
        }
    }

    /// Removes every occurrence of the given secrets from the messages this error carries.
    pub(crate) fn redacted(self, secrets: &[&str]) -> LlmError {
        let scrub = |text: String| {
            secrets.iter().filter(|s| !s.is_empty()).fold(text, |text, secret| text.replace(secret, "[redacted]"))
        };
        match self {
            LlmError::Api { status, error_type, message, request_id } => {
                LlmError::Api { status, error_type: scrub(error_type), message: scrub(message), request_id }
            }
            LlmError::Connection(message) => LlmError::Connection(scrub(message)),
            LlmError::Decode(message) => LlmError::Decode(scrub(message)),
            LlmError::OpenAi { status, message } => LlmError::OpenAi { status, message: scrub(message) },
            other => other,
        }
    }
}

/// The HTTP statuses worth another attempt (the official SDKs' set: 408, 409, 429, 5xx and 529).
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// An error and its causes on one line (`a: b: c`), for transport errors whose top level says little.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The first `max` characters of `text` (on a character boundary), with an ellipsis when cut.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> ErrorBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn mid_stream_errors_are_classified_by_error_type_not_status() {
        let overloaded = LlmError::from_error_body(
            None,
            body(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#),
            None,
            Some("req_1".into()),
        );
        assert!(matches!(overloaded, LlmError::Overloaded { .. }));
        assert!(overloaded.is_retryable());
        assert_eq!(overloaded.client_error_type(), "api_error");
        assert_eq!(overloaded.request_id(), Some("req_1"));

        let invalid = LlmError::from_error_body(
            None,
            body(r#"{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}"#),
            None,
            None,
        );
        assert!(!invalid.is_retryable());
    }

    #[test]
    fn the_spend_limit_is_a_rate_limit_that_is_never_retried() {
        let err = LlmError::from_error_body(
            Some(429),
            body(
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"cap",
                    "details":{"error_code":"enforced_spend_limit_reached"}}}"#,
            ),
            Some(Duration::from_secs(5)),
            None,
        );
        assert!(matches!(err, LlmError::RateLimited { spend_limit: true, retry_after: None, .. }));
        assert!(!err.is_retryable());
        assert_eq!(err.client_error_type(), "rate_limit");
    }

    #[test]
    fn an_unparseable_error_body_falls_back_to_the_status() {
        let err = LlmError::from_error_body(Some(529), ErrorBody::default(), None, None);
        assert!(matches!(err, LlmError::Overloaded { .. }));
        let err = LlmError::from_error_body(Some(502), ErrorBody::default(), None, None);
        assert!(err.is_retryable());
        assert!(err.to_string().contains("HTTP 502"), "{err}");
        let err = LlmError::from_error_body(Some(400), ErrorBody::default(), None, None);
        assert!(!err.is_retryable());
    }

    #[test]
    fn redaction_removes_secrets_from_every_message() {
        let err = LlmError::Api {
            status: Some(401),
            error_type: "authentication_error".into(),
            message: "invalid x-api-key sk-ant-secret".into(),
            request_id: None,
        }
        .redacted(&["sk-ant-secret", ""]);
        assert!(!err.to_string().contains("sk-ant-secret"));
        assert!(err.to_string().contains("[redacted]"));
    }

    #[test]
    fn long_messages_are_truncated_on_a_char_boundary() {
        assert_eq!(truncate_chars("héllo", 2), "hé…");
        assert_eq!(truncate_chars("hé", 2), "hé");
    }
}
