//! The plugin's settings: the `[config]` table of its `plugin.toml`, with `${setting:NAME}` already
//! interpolated by the host (base URLs and the like). Secrets are never here: the host adds them
//! to outgoing requests itself.

use crate::ToolError;
use crate::host;

/// The value of `key`, if the manifest sets it.
pub fn get(key: &str) -> Option<String> {
    host::config(key)
}

/// The value of `key`, or an `internal_error` naming the missing setting (a packaging mistake).
pub fn required(key: &str) -> Result<String, ToolError> {
    get(key).ok_or_else(|| ToolError::internal(format!("The tool is misconfigured: `{key}` is not set.")))
}
