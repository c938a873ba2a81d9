//! `duplicate_workout`: reads the workout, copies it without its identity, retitles it ("<title>
//! (Copy)" unless told), applies the allowed modifications, and saves the copy.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, saved_workout_id, validate_id};
use amakaflow_tool_sdk::prelude::*;

/// The fields a modification may set.
const MODIFIABLE: [&str; 9] = [
    "title",
    "description",
    "tags",
    "difficulty",
    "exercises",
    "estimated_duration_minutes",
    "equipment",
    "notes",
    "category",
];

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// ID of the workout to copy
    workout_id: String,
    /// Title of the copy
    new_title: Option<String>,
    /// Optional changes to make to the copy
    modifications: Option<serde_json::Map<String, Value>>,
}

pub fn duplicate_workout(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let workout_id = validate_id(&args.workout_id, "workout_id")?;
    let base = super::mapper_url()?;
    let original: Value = http::get(format!("{base}/workouts/{workout_id}")).send_json()?;
    let mut copy = match super::unwrap_workout(original) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    for identity in ["id", "workout_id", "created_at", "updated_at"] {
        copy.shift_remove(identity);
    }
    let title = match args.new_title.filter(|title| !title.is_empty()) {
        Some(title) => Value::String(title),
        None => {
            let original_title = copy.get("title").cloned().unwrap_or(json!("Workout"));
            json!(format!("{} (Copy)", pyfmt::str_of(&original_title)))
        }
    };
    copy.insert("title".into(), title);
    if let Some(modifications) = args.modifications {
        for (key, value) in modifications {
            if MODIFIABLE.contains(&key.as_str()) {
                copy.insert(key, value);
            }
        }
    }
    let result: Value = http::post(format!("{base}/workouts/save")).json(&copy).send_json()?;
    let new_workout = get_or(&result, "workout", result.clone());
    Ok(PyJson(json!({
        "success": true,
        "message": "Workout duplicated successfully",
        "original_id": workout_id,
        "new_workout": {"id": saved_workout_id(&result), "title": get_or(&new_workout, "title", Value::Null)},
    })))
}
