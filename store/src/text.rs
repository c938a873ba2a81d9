//! Text as both backends can store it. Postgres `text` and `jsonb` cannot hold U+0000 (an insert
//! with one fails, and the reply the user already saw would be lost); SQLite can. So every chat
//! text written through the store has its NUL characters replaced by U+FFFD (the replacement
//! character) on both backends alike: what is read back is the same wherever it was stored.

use std::borrow::Cow;

use serde_json::Value;

/// What a NUL becomes.
pub const NUL_REPLACEMENT: char = '\u{FFFD}';

/// `text` with every NUL replaced (borrowed when there is none, the common case).
pub fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') { Cow::Owned(text.replace('\0', &NUL_REPLACEMENT.to_string())) } else { Cow::Borrowed(text) }
}

/// A JSON value with every NUL replaced, in strings and in object keys.
pub fn storable_json(value: &Value) -> Cow<'_, Value> {
    if !json_has_nul(value) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(replace_in_json(value))
}

fn json_has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(json_has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn replace_in_json(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(storable(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(replace_in_json).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (storable(k).into_owned(), replace_in_json(v))).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_is_replaced_in_text_and_in_json_strings_and_keys() {
        assert!(matches!(storable("plain"), Cow::Borrowed("plain")));
        assert_eq!(storable("a\0b"), "a\u{FFFD}b");
        let clean = json!({"k": ["v", 1, null]});
        assert!(matches!(storable_json(&clean), Cow::Borrowed(_)));
        assert_eq!(*storable_json(&json!({"k\0": ["v\0", 1]})), json!({"k\u{FFFD}": ["v\u{FFFD}", 1]}));
    }
}
