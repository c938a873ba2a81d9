//! What a call produced, and the structured errors the host reports on a plugin's behalf. Each way
//! a call can be stopped has its own code, so the chat loop, the client (`function_result`) and the
//! statistics can tell a slow service from a runaway plugin; the messages are written for the model.

use std::time::Duration;

use serde::Serialize;

/// The codes of host-reported failures. A plugin's own codes (`not_found`, `execution_error`, …)
/// are passed through when they match [`valid_code`]; metrics and statistics count only the
/// [`FIXED`](codes::FIXED) ones and those the plugin's manifest declares (see [`counted_code`]).
pub mod codes {
    /// The call ran past its wall-clock budget (its deadline, or an HTTP request cut at the deadline).
    pub const TIMEOUT: &str = "timeout";
    /// The call used up its fuel (computation) budget.
    pub const FUEL_EXHAUSTED: &str = "fuel_exhausted";
    /// The call tried to use more memory than its limit.
    pub const MEMORY_EXCEEDED: &str = "memory_exceeded";
    /// The call tried to reach an origin or address its manifest does not allow.
    pub const EGRESS_DENIED: &str = "egress_denied";
    /// An HTTP response to the call was larger than the manifest allows.
    pub const RESPONSE_TOO_LARGE: &str = "response_too_large";
    /// The arguments do not match the function's JSON Schema; the plugin did not run.
    pub const INVALID_ARGUMENTS: &str = "invalid_arguments";
    /// No loaded plugin offers the function.
    pub const UNKNOWN_FUNCTION: &str = "unknown_function";
    /// Too many calls at once (the plugin's limit or the host's pool); nothing ran.
    pub const BUSY: &str = "busy";
    /// The plugin crashed (a panic, a trap, a broken export).
    pub const PLUGIN_TRAP: &str = "plugin_trap";
    /// The plugin's result is larger than the manifest allows.
    pub const RESULT_TOO_LARGE: &str = "result_too_large";
    /// A host service the plugin used (its state, flags, rate limits) failed.
    pub const HOST_ERROR: &str = "host_error";
    /// The plugin reported an error whose code is not a short `[a-z0-9_]` token (the model sees
    /// this instead), or, in metrics and statistics, a code its manifest does not declare.
    pub const PLUGIN_ERROR: &str = "plugin_error";
    /// The plugin tried to keep more state for the user than its quota (the SDK reports it so).
    pub const STATE_QUOTA_EXCEEDED: &str = "state_quota_exceeded";

    /// The codes every plugin may report and metrics count apart: the host's, and the SDK's
    /// standard ones (the original service's codes, `plugins/sdk/src/error.rs`).
    pub const FIXED: &[&str] = &[
        TIMEOUT,
        FUEL_EXHAUSTED,
        MEMORY_EXCEEDED,
        EGRESS_DENIED,
        RESPONSE_TOO_LARGE,
        INVALID_ARGUMENTS,
        UNKNOWN_FUNCTION,
        BUSY,
        PLUGIN_TRAP,
        RESULT_TOO_LARGE,
        HOST_ERROR,
        PLUGIN_ERROR,
        STATE_QUOTA_EXCEEDED,
        "validation_error",
        "execution_error",
        "internal_error",
        "not_found",
        "generation_failed",
        "save_failed",
        "fetch_failed",
        "ingestion_failed",
        "confirmation_required",
        "rate_limit_exceeded",
        "feature_disabled",
    ];
}

/// Whether a plugin's error code may be passed on: `[a-z0-9_]{1,64}`.
pub fn valid_code(code: &str) -> bool {
    (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The code a failure is counted under in metrics and statistics: a fixed code or one the plugin
/// declared (`declared`), else `plugin_error`, so a plugin cannot grow either without bound.
pub fn counted_code<'a>(code: &'a str, declared: &[String]) -> &'a str {
    if codes::FIXED.contains(&code) || declared.iter().any(|d| d == code) { code } else { codes::PLUGIN_ERROR }
}

/// A structured tool failure: reported by the plugin, or by the host (timeout, fuel, egress, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolError {
    pub code: String,
    pub message: String,
}

impl ToolError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ToolError { code: code.into(), message: message.into() }
    }

    /// The original service's error shape: `{"error": true, "code": …, "message": …}`.
    pub fn to_result_string(&self) -> String {
        self.to_json().to_string()
    }

    /// The error in the original shape: `{"error": true, "code", "message"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"error": true, "code": self.code, "message": self.message})
    }

    pub(crate) fn unknown_function(function: &str) -> ToolError {
        ToolError::new(codes::UNKNOWN_FUNCTION, format!("Unknown function: {function}"))
    }

    pub(crate) fn busy(function: &str) -> ToolError {
        ToolError::new(
            codes::BUSY,
            format!("The tool {function} is handling too many requests right now. Please try again in a moment."),
        )
    }

    pub(crate) fn timeout(function: &str, budget: Duration) -> ToolError {
        ToolError::new(
            codes::TIMEOUT,
            format!("The tool {function} did not finish within {} and was stopped.", seconds(budget)),
        )
    }

    pub(crate) fn fuel_exhausted(function: &str) -> ToolError {
        ToolError::new(
            codes::FUEL_EXHAUSTED,
            format!("The tool {function} used up its computation budget and was stopped."),
        )
    }

    pub(crate) fn memory_exceeded(function: &str, limit: u64) -> ToolError {
        ToolError::new(
            codes::MEMORY_EXCEEDED,
            format!("The tool {function} tried to use more than {} of memory and was stopped.", bytes(limit)),
        )
    }

    pub(crate) fn plugin_trap(function: &str) -> ToolError {
        ToolError::new(codes::PLUGIN_TRAP, format!("The tool {function} failed unexpectedly."))
    }

    pub(crate) fn result_too_large(function: &str, size: usize, limit: usize) -> ToolError {
        ToolError::new(
            codes::RESULT_TOO_LARGE,
            format!(
                "The tool {function} produced a result of {}, more than the {} allowed.",
                bytes(size as u64),
                bytes(limit as u64)
            ),
        )
    }

    /// The error a plugin returned, bounded like a result: the message cut at `max_bytes` (on a
    /// character boundary, marked), the code kept only if it is [`valid_code`].
    pub(crate) fn from_plugin(code: String, message: String, max_bytes: u64) -> ToolError {
        let code = if valid_code(&code) { code } else { codes::PLUGIN_ERROR.to_string() };
        ToolError { code, message: cut(message, max_bytes) }
    }

    pub(crate) fn host_error(function: &str) -> ToolError {
        ToolError::new(
            codes::HOST_ERROR,
            format!("The tool {function} could not reach a service it needs. Please try again."),
        )
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// What a call produced.
#[derive(Clone, Debug)]
pub struct ToolOutcome {
    /// The plugin that served the call (`None` when no plugin has the function).
    pub plugin: Option<String>,
    pub result: Result<String, ToolError>,
    pub elapsed: Duration,
    pub fuel_consumed: Option<u64>,
}

impl ToolOutcome {
    /// The text handed to the model and the client: the result, or the error JSON.
    pub fn result_text(&self) -> String {
        match &self.result {
            Ok(text) => text.clone(),
            Err(err) => err.to_result_string(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.result.is_err()
    }

    /// `ok`, or the error code as reported (metrics count a plugin's codes through [`counted_code`]).
    pub fn outcome_label(&self) -> &str {
        match &self.result {
            Ok(_) => "ok",
            Err(err) => &err.code,
        }
    }
}

/// `text` if it has at most `max_bytes`, else its longest prefix on a character boundary that
/// fits, followed by ` … [cut: <size> message]`.
fn cut(mut text: String, max_bytes: u64) -> String {
    if text.len() as u64 <= max_bytes {
        return text;
    }
    let size = text.len() as u64;
    let mut end = max_bytes as usize;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!(" … [cut: {} message]", bytes(size)));
    text
}

/// `1 second`, `0.5 seconds`, `30 seconds`.
fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs == 1.0 {
        "1 second".to_string()
    } else if secs.fract() == 0.0 {
        format!("{secs:.0} seconds")
    } else {
        format!("{secs:.1} seconds")
    }
}

/// `16 MiB`, `512 KiB`, `100 bytes`.
pub(crate) fn bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialise_in_the_original_shape() {
        let text = ToolError::new("not_found", "No such workout").to_result_string();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value, serde_json::json!({"error": true, "code": "not_found", "message": "No such workout"}));
    }

    #[test]
    fn messages_name_the_function_and_the_limit() {
        assert_eq!(
            ToolError::timeout("spin", Duration::from_millis(1500)).message,
            "The tool spin did not finish within 1.5 seconds and was stopped."
        );
        assert!(ToolError::memory_exceeded("bomb", 16 << 20).message.contains("16 MiB"));
        assert!(
            ToolError::result_too_large("flood", 5 << 20, 64 << 10).message.contains("5 MiB, more than the 64 KiB")
        );
    }

    #[test]
    fn a_plugins_error_is_bounded_like_a_result() {
        let message = format!("{}é", "x".repeat(9));
        let error = ToolError::from_plugin("not_found".into(), message, 10);
        assert_eq!(error.code, "not_found");
        assert_eq!(error.message, "xxxxxxxxx … [cut: 11 bytes message]", "not inside the two-byte é");
        let huge = ToolError::from_plugin("x".into(), "m".repeat(16 << 20), 1024);
        assert!(huge.message.starts_with(&"m".repeat(1024)) && huge.message.ends_with(" … [cut: 16 MiB message]"));
        assert_eq!(ToolError::from_plugin("short".into(), "fine".into(), 4).message, "fine");
    }

    #[test]
    fn only_short_lower_case_codes_pass() {
        for bad in ["", "Not_Found", "a-b", "code with spaces", &"x".repeat(65), "ünï"] {
            assert_eq!(ToolError::from_plugin(bad.into(), "m".into(), 10).code, codes::PLUGIN_ERROR, "{bad:?}");
        }
        assert_eq!(ToolError::from_plugin("x".repeat(64), "m".into(), 10).code, "x".repeat(64));
    }

    #[test]
    fn metrics_count_fixed_and_declared_codes_only() {
        let declared = vec!["quota_full".to_string()];
        assert_eq!(counted_code("not_found", &declared), "not_found");
        assert_eq!(counted_code(codes::TIMEOUT, &declared), codes::TIMEOUT);
        assert_eq!(counted_code("quota_full", &declared), "quota_full");
        assert_eq!(counted_code("fresh_code_1234", &declared), codes::PLUGIN_ERROR);
    }
}
