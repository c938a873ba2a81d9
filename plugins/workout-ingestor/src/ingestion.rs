//! What the ingestor returns, turned into the original import result: the workout (nested under
//! `workout` or at the top level), its title, block and exercise counts, the first exercise names,
//! and the instruction to ask the user before saving.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, truthy_or};
use amakaflow_tool_sdk::prelude::*;

/// The workout in an ingestor answer: `workout`, or the answer itself without its envelope keys
/// when it has a `title` or `blocks`; `None` otherwise.
pub fn workout_data(result: &Value) -> Option<Value> {
    let map = result.as_object()?;
    if let Some(workout) = map.get("workout") {
        return Some(workout.clone());
    }
    if map.contains_key("title") || map.contains_key("blocks") {
        let mut workout = map.clone();
        for envelope in ["success", "error", "_provenance"] {
            workout.shift_remove(envelope);
        }
        return Some(Value::Object(workout));
    }
    None
}

/// The exercise summary the clients render: name, sets, reps, muscle group, notes.
pub fn exercise_summary(exercise: &Value) -> Value {
    json!({
        "name": get_or(exercise, "name", json!("Unknown")),
        "sets": get_or(exercise, "sets", Value::Null),
        "reps": get_or(exercise, "reps", Value::Null),
        "muscle_group": get_or(exercise, "muscle_group", Value::Null),
        "notes": get_or(exercise, "notes", Value::Null),
    })
}

/// The first ten exercise names, and "... and N more".
fn exercise_names(exercises: &[Value]) -> Value {
    let mut names: Vec<Value> = exercises.iter().take(10).map(|e| get_or(e, "name", json!("Unknown"))).collect();
    if exercises.len() > 10 {
        names.push(json!(format!("... and {} more", exercises.len() - 10)));
    }
    Value::Array(names)
}

/// The original `_format_ingestion_result`.
pub fn preview(result: &Value, source: &str, source_url: &str) -> Result<PyJson, ToolError> {
    if !pyfmt::truthy(&get_or(result, "success", json!(true))) {
        let error = get_or(result, "error", json!("Failed to extract workout"));
        return Err(ToolError::new(amakaflow_tool_sdk::codes::INGESTION_FAILED, pyfmt::str_of(&error)));
    }
    let mut workout = workout_data(result).unwrap_or_else(|| json!({}));
    let title = truthy_or(&workout, "title", get_or(&workout, "name", json!("Imported Workout")));
    let blocks = get_or(&workout, "blocks", json!([]));
    let blocks = blocks.as_array().cloned().unwrap_or_default();
    let mut exercises = get_or(&workout, "exercises", json!([])).as_array().cloned().unwrap_or_default();
    if exercises.is_empty() && !blocks.is_empty() {
        exercises =
            blocks.iter().filter_map(|b| b.get("exercises").and_then(Value::as_array)).flatten().cloned().collect();
        // The original extended the workout's own (empty) list in place, so the full data shows them too.
        if workout.get("exercises").is_some_and(|e| e.as_array().is_some_and(Vec::is_empty)) {
            workout["exercises"] = Value::Array(exercises.clone());
        }
    }
    let mut summary = json!({"title": title});
    if !blocks.is_empty() {
        summary["block_count"] = json!(blocks.len());
    }
    if !exercises.is_empty() {
        summary["exercise_count"] = get_or(&workout, "exercise_count", json!(exercises.len()));
        summary["exercise_names"] =
            workout.get("exercise_names").cloned().unwrap_or_else(|| exercise_names(&exercises));
        summary["exercises"] = Value::Array(exercises.iter().map(exercise_summary).collect());
    }
    let summary = with_full_data(summary, workout);
    Ok(PyJson(json!({
        "type": "workout_imported",
        "success": true,
        "source": source,
        "preview_mode": true,
        "persisted": false,
        "workout": summary,
        "next_step": "Present this workout to the user and ask if they want to save it to their library. If they \
                      confirm, call save_imported_workout with the workout_data.",
        "source_url": source_url,
    })))
}

/// `summary` with `full_workout_data` right after its title, where the original put it.
fn with_full_data(summary: Value, workout: Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Value::Object(map) = summary {
        for (key, value) in map {
            out.insert(key.clone(), value);
            if key == "title" {
                out.insert("full_workout_data".into(), workout.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_workout_nested_or_at_the_top() {
        assert_eq!(workout_data(&json!({"workout": {"title": "A"}})), Some(json!({"title": "A"})));
        assert_eq!(
            workout_data(&json!({"success": true, "title": "B", "_provenance": {}, "blocks": []})),
            Some(json!({"title": "B", "blocks": []}))
        );
        assert_eq!(workout_data(&json!({"success": true})), None);
    }
}
