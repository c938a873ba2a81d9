//! The text a workout is embedded as, and its content hash, exactly as the original service built
//! them (`embedding_service.build_content` / `content_hash`): the same fields, order, separators and
//! Python formatting of values, so hashes stored by the original stay valid and an unchanged workout
//! is never embedded twice.

use pyfmt::{str_of, truthy};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Top-level text fields, in order.
const TEXT_FIELDS: [&str; 4] = ["title", "description", "workout_type", "difficulty_level"];
/// List fields, each joined with `", "` (ignored unless they are lists).
const LIST_FIELDS: [&str; 2] = ["target_muscle_groups", "equipment"];
/// Fields of the `workout_data` object, in order.
const WORKOUT_DATA_FIELDS: [&str; 3] = ["goals", "instructions", "notes"];

/// The embedded text: the non-empty values joined with `" | "`. May be empty (the row is skipped).
pub fn build_content(workout: &Map<String, Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for field in TEXT_FIELDS {
        if let Some(value) = workout.get(field).filter(|v| truthy(v)) {
            parts.push(str_of(value));
        }
    }
    for field in LIST_FIELDS {
        if let Some(Value::Array(items)) = workout.get(field).filter(|v| truthy(v)) {
            parts.push(join(items));
        }
    }
    if let Some(duration) = workout.get("duration_minutes").filter(|v| truthy(v)) {
        parts.push(format!("{} minutes", str_of(duration)));
    }
    if let Some(Value::Object(data)) = workout.get("workout_data") {
        for field in WORKOUT_DATA_FIELDS {
            match data.get(field).filter(|v| truthy(v)) {
                Some(Value::Array(items)) => parts.push(join(items)),
                Some(value) => parts.push(str_of(value)),
                None => {}
            }
        }
    }
    parts.join(" | ")
}

/// Whether the text has anything to embed (the original skips `not text.strip()`).
pub fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// SHA-256 of the UTF-8 text, lowercase hex (`embedding_content_hash`).
pub fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn join(items: &[Value]) -> String {
    items.iter().map(str_of).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(value: Value) -> String {
        build_content(value.as_object().unwrap())
    }

    #[test]
    fn joins_the_fields_in_the_original_order() {
        let workout = json!({
            "workout_data": {"notes": "keep the core tight", "goals": ["strength", "power"], "instructions": "rest 90s"},
            "duration_minutes": 45,
            "equipment": ["barbell", "rack"],
            "target_muscle_groups": ["quads", "glutes"],
            "difficulty_level": "advanced",
            "workout_type": "strength",
            "description": "Heavy squats",
            "title": "Leg Day",
        });
        assert_eq!(
            text(workout),
            "Leg Day | Heavy squats | strength | advanced | quads, glutes | barbell, rack | 45 minutes \
             | strength, power | rest 90s | keep the core tight"
        );
    }

    #[test]
    fn leaves_out_empty_and_falsy_values() {
        let workout = json!({
            "title": "Run", "description": "", "workout_type": null, "duration_minutes": 0,
            "equipment": [], "target_muscle_groups": "legs", "workout_data": {"goals": [], "notes": null},
        });
        assert_eq!(text(workout), "Run");
        assert_eq!(text(json!({"id": "x", "workout_data": "not an object"})), "");
        assert!(is_blank(&text(json!({"title": "   "}))));
    }

    #[test]
    fn formats_values_as_python_str_does() {
        let workout = json!({
            "title": 7, "duration_minutes": 30.0, "equipment": [1, 2.5, true, null, "band"],
            "workout_data": {"instructions": {"a": "it's"}, "notes": ["x", ["y"]]},
        });
        assert_eq!(text(workout), "7 | 1, 2.5, True, None, band | 30.0 minutes | {'a': \"it's\"} | x, ['y']");
    }

    #[test]
    fn hashes_the_text_with_sha256_hex() {
        assert_eq!(content_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(content_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        // UTF-8 bytes, as Python's `text.encode("utf-8")`.
        assert_eq!(
            content_hash("Squat | Beinübung 💪"),
            "b3e03f4eb1627dcf3a44ef3c833b474887d46c6cf415a5572be77a928da2a8cf"
        );
    }
}
