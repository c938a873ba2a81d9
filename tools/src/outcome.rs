//! What a call produced, and the structured errors the host reports on a plugin's behalf. Each way
//! a call can be stopped has its own code, so the chat loop, the client (`function_result`) and the
//! statistics can tell a slow service from a runaway plugin; the messages are written for the model.

use std::time::Duration;

use serde::Serialize;

/// The codes of host-reported failures. A plugin's own codes (`not_found`, `execution_error`, …)
/// are passed through unchanged.
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
        serde_json::json!({"error": true, "code": self.code, "message": self.message}).to_string()
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

    /// `ok`, or the error code: the `outcome` label of the call metrics.
    pub fn outcome_label(&self) -> &str {
        match &self.result {
            Ok(_) => "ok",
            Err(err) => &err.code,
        }
    }
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
}
