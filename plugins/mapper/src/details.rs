//! `get_workout_details`: `GET /workouts/{id}`, summarised: title, description, tags, duration and
//! up to 20 exercises. mapper-api keeps a workout's exercises in its blocks; they are listed from
//! there when the workout has no flat list.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, validate_id};
use amakaflow_tool_sdk::prelude::*;

/// At most this many exercises are listed.
const MAX_EXERCISES: usize = 20;

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// ID of the workout to show
    workout_id: String,
}

/// The workout's exercises: its own list, else `workout_data.exercises`, else those of
/// `workout_data.blocks`.
fn exercises_of(workout: &Value) -> Vec<Value> {
    let list = |v: Option<&Value>| v.and_then(Value::as_array).filter(|a| !a.is_empty()).cloned();
    let data = workout.get("workout_data");
    list(workout.get("exercises"))
        .or_else(|| list(data.and_then(|d| d.get("exercises"))))
        .or_else(|| {
            let blocks = data.and_then(|d| d.get("blocks")).and_then(Value::as_array)?;
            list(Some(&Value::Array(
                blocks.iter().filter_map(|b| b.get("exercises").and_then(Value::as_array)).flatten().cloned().collect(),
            )))
        })
        .unwrap_or_default()
}

pub fn get_workout_details(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let workout_id = validate_id(&args.workout_id, "workout_id")?;
    let response: Value = http::get(format!("{}/workouts/{workout_id}", super::mapper_url()?)).send_json()?;
    let workout = super::unwrap_workout(response);
    let exercises = exercises_of(&workout);
    let mut summary = json!({
        "id": workout_id,
        "title": get_or(&workout, "title", json!("Untitled Workout")),
        "description": get_or(&workout, "description", json!("")),
        "exercise_count": exercises.len(),
        "tags": get_or(&workout, "tags", json!([])),
    });
    let duration = get_or(&workout, "estimated_duration_minutes", Value::Null);
    if pyfmt::truthy(&duration) {
        summary["estimated_duration_minutes"] = duration;
    }
    if !exercises.is_empty() {
        let listed: Vec<Value> = exercises
            .iter()
            .take(MAX_EXERCISES)
            .map(|exercise| {
                let mut item = json!({"name": get_or(exercise, "name", json!("Unknown"))});
                for key in ["sets", "reps", "duration"] {
                    if let Some(value) = exercise.get(key).filter(|v| pyfmt::truthy(v)) {
                        item[key] = value.clone();
                    }
                }
                item
            })
            .collect();
        summary["exercises"] = Value::Array(listed);
    }
    Ok(PyJson(json!({"success": true, "workout": summary})))
}
