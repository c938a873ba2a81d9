//! A small key-value store scoped to this plugin and the calling user, with expiry. Memory does not
//! survive a call (each call runs in a fresh sandbox), so anything a later call needs, such as a
//! preview the user must confirm, goes here. Keys are at most 256 bytes, values at most 1 MiB,
//! lifetimes 1 second to 30 days; the host caps the keys and bytes one user's state may take.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::host;
use crate::{ToolError, codes};

/// The stored text, unless absent or expired.
pub fn get(key: &str) -> Option<String> {
    host::state_get(key)
}

/// Stores `value` under `key` for `ttl` (rounded up to whole seconds), replacing any previous value.
/// Past this plugin's quota for the user (live keys, bytes) nothing is stored and the error has
/// the code [`codes::STATE_QUOTA_EXCEEDED`], which `?` hands to the model as is.
pub fn put(key: &str, value: &str, ttl: Duration) -> Result<(), ToolError> {
    let seconds = ttl.as_secs().saturating_add(u64::from(ttl.subsec_nanos() > 0)).clamp(1, u64::from(u32::MAX));
    host::state_put(key, value, seconds as u32).map_err(|message| {
        if message.starts_with(codes::STATE_QUOTA_EXCEEDED) {
            ToolError::new(codes::STATE_QUOTA_EXCEEDED, message)
        } else {
            ToolError::internal(message)
        }
    })
}

/// Reads and deletes in one step: a preview can be consumed exactly once.
pub fn take(key: &str) -> Option<String> {
    host::state_take(key)
}

/// Deletes `key`; an absent key is not an error.
pub fn delete(key: &str) {
    host::state_delete(key)
}

/// [`get`] for a JSON value. A value that no longer parses as `T` counts as absent.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Option<T> {
    get(key).and_then(|text| serde_json::from_str(&text).ok())
}

/// [`put`] for a JSON value.
pub fn put_json<T: Serialize>(key: &str, value: &T, ttl: Duration) -> Result<(), ToolError> {
    put(key, &serde_json::to_string(value)?, ttl)
}

/// [`take`] for a JSON value.
pub fn take_json<T: DeserializeOwned>(key: &str) -> Option<T> {
    take(key).and_then(|text| serde_json::from_str(&text).ok())
}
