//! Feature flags of the calling user (the user's value wins over the global one).

use serde_json::Value;

use crate::host;

/// The flag's JSON value, if set.
pub fn get(key: &str) -> Option<Value> {
    host::feature_flag(key).and_then(|text| serde_json::from_str(&text).ok())
}

/// A boolean flag; anything that is not a JSON boolean counts as `default`.
pub fn enabled(key: &str, default: bool) -> bool {
    get(key).and_then(|v| v.as_bool()).unwrap_or(default)
}

/// Whether the flag is a list containing `item` (e.g. `"garmin_sync"` in `chat_functions_enabled`).
pub fn list_contains(key: &str, item: &str) -> bool {
    matches!(get(key), Some(Value::Array(items)) if items.iter().any(|v| v.as_str() == Some(item)))
}
