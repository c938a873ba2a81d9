//! The error a tool reports on purpose, in the original service's shape: the model receives
//! `{"error": true, "code": <code>, "message": <message>}` as the tool result with `is_error: true`.

use std::fmt;

use crate::bindings::amakaflow::tool::types::ToolError as WitToolError;

/// The error codes of the original service (`original-contract.md` §2.5), and the SDK's own. Any
/// other code matching `[a-z0-9_]{1,64}` is passed through as well (others become `plugin_error`);
/// metrics count it apart only if the manifest lists it in `error_codes`.
pub mod codes {
    pub const VALIDATION_ERROR: &str = "validation_error";
    pub const EXECUTION_ERROR: &str = "execution_error";
    pub const INTERNAL_ERROR: &str = "internal_error";
    pub const NOT_FOUND: &str = "not_found";
    pub const GENERATION_FAILED: &str = "generation_failed";
    pub const SAVE_FAILED: &str = "save_failed";
    pub const FETCH_FAILED: &str = "fetch_failed";
    pub const INGESTION_FAILED: &str = "ingestion_failed";
    pub const CONFIRMATION_REQUIRED: &str = "confirmation_required";
    pub const RATE_LIMIT_EXCEEDED: &str = "rate_limit_exceeded";
    pub const FEATURE_DISABLED: &str = "feature_disabled";
    /// The host refused a [`state::put`](crate::state::put): this plugin keeps as much state for
    /// the user as its quota allows.
    pub const STATE_QUOTA_EXCEEDED: &str = "state_quota_exceeded";
}

/// A failure a tool function returns; `?` converts [`HttpError`](crate::http::HttpError)s into one
/// with the original messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolError {
    /// Machine-readable, e.g. [`codes::NOT_FOUND`].
    pub code: String,
    /// Shown to the model (and, through it, the user): say what went wrong and what to do.
    pub message: String,
}

impl ToolError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ToolError {
        ToolError { code: code.into(), message: message.into() }
    }

    /// `validation_error`: the arguments make no sense (beyond what the schema checks).
    pub fn validation(message: impl Into<String>) -> ToolError {
        ToolError::new(codes::VALIDATION_ERROR, message)
    }

    /// `execution_error`: the work could not be done (a downstream failure, usually).
    pub fn execution(message: impl Into<String>) -> ToolError {
        ToolError::new(codes::EXECUTION_ERROR, message)
    }

    /// `internal_error`: a bug or a misconfiguration of the plugin.
    pub fn internal(message: impl Into<String>) -> ToolError {
        ToolError::new(codes::INTERNAL_ERROR, message)
    }

    /// `not_found`.
    pub fn not_found(message: impl Into<String>) -> ToolError {
        ToolError::new(codes::NOT_FOUND, message)
    }

    /// The result string the host hands to the model for this error.
    pub fn to_result_string(&self) -> String {
        serde_json::json!({"error": true, "code": self.code, "message": self.message}).to_string()
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ToolError {}

impl From<ToolError> for WitToolError {
    fn from(err: ToolError) -> WitToolError {
        WitToolError { code: err.code, message: err.message }
    }
}

impl From<serde_json::Error> for ToolError {
    fn from(err: serde_json::Error) -> ToolError {
        ToolError::internal(format!("JSON error: {err}"))
    }
}
