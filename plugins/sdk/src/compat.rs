//! Conventions of the original Python service, for tools ported from it: results written exactly
//! as its `json.dumps(result)` wrote them ([`PyJson`]), `dict.get` with a default ([`get_or`]), the
//! id of a saved workout in mapper-api's answer ([`saved_workout_id`]), the
//! id checks of its dispatcher ([`validate_id`], [`validate_id_list`]) and its random preview ids
//! ([`uuid4`]). Python's formatting of
//! single values (`str()`, truthiness, `str.title()`) is [`pyfmt`], re-exported here.

pub use pyfmt;
use serde_json::Value;

use crate::{ToolError, ToolOutput};

/// A result serialised as the original service's `json.dumps(result)`: `", "` and `": "`
/// separators, non-ASCII characters escaped, keys in the order they were inserted.
#[derive(Clone, Debug, PartialEq)]
pub struct PyJson(pub Value);

impl ToolOutput for PyJson {
    fn into_result_text(self) -> Result<String, ToolError> {
        Ok(pyfmt::dumps(&self.0))
    }
}

/// `d.get(key, default)`: the value when `obj` is an object with `key` (even `null`), else `default`.
pub fn get_or(obj: &Value, key: &str, default: Value) -> Value {
    obj.as_object().and_then(|o| o.get(key)).cloned().unwrap_or(default)
}

/// A random UUID (version 4) in its usual text form, as the original's `str(uuid.uuid4())`. The
/// randomness comes from the host (`wasi:random`).
pub fn uuid4() -> Result<String, ToolError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|err| ToolError::internal(format!("No randomness available: {err}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
}

/// `obj.get(key) or fallback`: the value under `key` when it is truthy, else `fallback`.
pub fn truthy_or(obj: &Value, key: &str, fallback: Value) -> Value {
    obj.get(key).filter(|v| pyfmt::truthy(v)).cloned().unwrap_or(fallback)
}

/// The id of a workout mapper-api saved, from its answer: `workout.id`, else `id`, else
/// `workout_id` (the original read it this way in every tool that saves a workout).
pub fn saved_workout_id(result: &Value) -> Value {
    let saved = get_or(result, "workout", result.clone());
    truthy_or(&saved, "id", get_or(&saved, "workout_id", Value::Null))
}

/// The ids the original accepted in URL paths: `^[a-zA-Z0-9_-]{1,64}$` (no path traversal).
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The original `_validate_id`: `Missing required field: <field>` when blank, `Invalid <field>
/// format` when it does not match. Returns the id without surrounding blanks.
pub fn validate_id(value: &str, field: &str) -> Result<String, ToolError> {
    let id = value.trim();
    if id.is_empty() {
        return Err(ToolError::validation(format!("Missing required field: {field}")));
    }
    if !is_valid_id(id) {
        return Err(ToolError::validation(format!("Invalid {field} format")));
    }
    Ok(id.to_string())
}

/// The original `_validate_id_list`: `Missing required field: <field>` when empty,
/// `Invalid ID format in <field>` when any item does not match.
pub fn validate_id_list(values: &[String], field: &str) -> Result<Vec<String>, ToolError> {
    if values.is_empty() {
        return Err(ToolError::validation(format!("Missing required field: {field}")));
    }
    values
        .iter()
        .map(|value| {
            let id = value.trim();
            if is_valid_id(id) {
                Ok(id.to_string())
            } else {
                Err(ToolError::validation(format!("Invalid ID format in {field}")))
            }
        })
        .collect()
}

/// The original's check of a required text argument: `Missing required field: <field>` when empty
/// (the schema makes it present, not non-empty).
pub fn required_text(value: String, field: &str) -> Result<String, ToolError> {
    if value.is_empty() { Err(ToolError::validation(format!("Missing required field: {field}"))) } else { Ok(value) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_checked_as_the_original_did() {
        assert_eq!(validate_id(" evt_1-A ", "event_id").unwrap(), "evt_1-A");
        assert_eq!(validate_id("", "event_id").unwrap_err().message, "Missing required field: event_id");
        assert_eq!(validate_id("  ", "event_id").unwrap_err().message, "Missing required field: event_id");
        for bad in ["../etc", "a/b", "a b", "é", &"x".repeat(65)] {
            assert_eq!(validate_id(bad, "event_id").unwrap_err().message, "Invalid event_id format", "{bad}");
        }
        let ids = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(validate_id_list(&ids(&["a", " 12 "]), "workout_ids").unwrap(), vec!["a", "12"]);
        assert_eq!(validate_id_list(&[], "workout_ids").unwrap_err().message, "Missing required field: workout_ids");
        for bad in [&["a", "../x"][..], &["a", " "]] {
            assert_eq!(
                validate_id_list(&ids(bad), "workout_ids").unwrap_err().message,
                "Invalid ID format in workout_ids"
            );
        }
        assert_eq!(required_text("p1".into(), "preview_id").unwrap(), "p1");
        assert_eq!(
            required_text(String::new(), "preview_id").unwrap_err().message,
            "Missing required field: preview_id"
        );
    }

    #[test]
    fn results_are_written_as_json_dumps() {
        let text = PyJson(json!({"b": 1, "a": [true, null], "é": 2.0})).into_result_text().unwrap();
        assert_eq!(text, r#"{"b": 1, "a": [true, null], "\u00e9": 2.0}"#);
        assert_eq!(get_or(&json!({"k": null}), "k", json!("d")), json!(null));
        assert_eq!(get_or(&json!({}), "k", json!("d")), json!("d"));
        assert_eq!(truthy_or(&json!({"k": ""}), "k", json!("d")), json!("d"));
        assert_eq!(truthy_or(&json!({"k": "v"}), "k", json!("d")), json!("v"));
    }
}
