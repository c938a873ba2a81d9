//! `generate_workout` (`POST /workouts/parse-voice`, kept as a preview) and `save_and_push_workout`
//! (the preview consumed, `POST /workouts/save` to mapper-api, optionally `POST /calendar`). A
//! preview is private to its user (the host scopes state to plugin and user) and lives 15 minutes;
//! when saving fails it is put back, so the user can try again.

use amakaflow_tool_sdk::prelude::*;
use schemars::{Schema, json_schema};

use crate::{PREVIEW_TTL, ingestion};

/// A preview's state key.
fn key(preview_id: &str) -> String {
    format!("workout:{preview_id}")
}

#[derive(Deserialize)]
pub struct GenerateArgs {
    description: Option<Value>,
    duration_minutes: Option<Value>,
    equipment: Option<Value>,
    difficulty: Option<Value>,
}

pub fn generate_schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "description": {"type": "string", "description": "What the user wants, in their words"},
            "duration_minutes": {"type": "integer", "description": "Target length in minutes"},
            "equipment": {"type": "array", "items": {"type": "string"}, "description": "Equipment available"},
            "difficulty": {"type": "string", "enum": ["beginner", "intermediate", "advanced"], "description": "Difficulty level"}
        },
        "required": ["description"]
    })
}

pub fn generate_workout(_ctx: &Context, args: GenerateArgs) -> Result<PyJson, ToolError> {
    let mut body = json!({"transcription": args.description.unwrap_or(json!(""))});
    for (key, value) in
        [("difficulty", args.difficulty), ("duration_minutes", args.duration_minutes), ("equipment", args.equipment)]
    {
        if let Some(value) = value.filter(pyfmt::truthy) {
            body[key] = value;
        }
    }
    let result: Value =
        http::post(format!("{}/workouts/parse-voice", crate::ingestor_url()?)).json(&body).send_json()?;
    if !pyfmt::truthy(&get_or(&result, "success", Value::Null)) {
        return Err(ToolError::new(
            amakaflow_tool_sdk::codes::GENERATION_FAILED,
            "Couldn't generate workout from that description. Please try being more specific.",
        ));
    }
    let workout = get_or(&result, "workout", json!({}));
    let preview_id = uuid4()?;
    state::put_json(&key(&preview_id), &workout, PREVIEW_TTL)?;
    let exercises = get_or(&workout, "exercises", json!([])).as_array().cloned().unwrap_or_default();
    Ok(PyJson(json!({
        "type": "workout_generated",
        "preview_id": preview_id,
        "persisted": false,
        "workout": {
            "name": get_or(&workout, "name", json!("Generated Workout")),
            "exercises": exercises.iter().map(ingestion::exercise_summary).collect::<Vec<_>>(),
            "duration_minutes": get_or(&workout, "duration_minutes", Value::Null),
            "difficulty": get_or(&workout, "difficulty", Value::Null),
        },
        "next_step": "Present this workout to the user and ask if they want to save it. If confirmed, call \
                      save_and_push_workout with the preview_id.",
    })))
}

#[derive(Deserialize)]
pub struct SaveArgs {
    preview_id: Option<String>,
    schedule_date: Option<Value>,
}

pub fn save_schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "preview_id": {"type": "string", "description": "Preview ID from the generate_workout result"},
            "schedule_date": {"type": "string", "description": "Optional date to schedule the workout on (YYYY-MM-DD)"}
        },
        "required": ["preview_id"]
    })
}

pub fn save_and_push_workout(ctx: &Context, args: SaveArgs) -> Result<PyJson, ToolError> {
    let preview_id = args
        .preview_id
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ToolError::validation("Missing required field: preview_id"))?;
    let Some(workout) = state::take_json::<Value>(&key(&preview_id)) else {
        return Err(ToolError::not_found("Preview not found or expired. Please generate the workout again."));
    };
    let title = get_or(&workout, "name", json!("Generated Workout"));
    let body = json!({"profile_id": ctx.user_id, "workout_data": workout, "device": "web", "title": title});
    let result = match http::post(format!("{}/workouts/save", crate::mapper_url()?)).json(&body).send_json::<Value>() {
        Ok(result) => result,
        Err(err) => {
            let _ = state::put_json(&key(&preview_id), &workout, PREVIEW_TTL);
            return Err(ToolError::new(
                amakaflow_tool_sdk::codes::SAVE_FAILED,
                format!("Failed to save workout: {}", ToolError::from(err).message),
            ));
        }
    };
    let workout_id = saved_workout_id(&result);
    let schedule_date = args.schedule_date.filter(pyfmt::truthy);
    if let Some(date) = &schedule_date
        && pyfmt::truthy(&workout_id)
    {
        // Saved is what matters; a failed scheduling is only logged, as in the original.
        let scheduled = config::required("calendar_url").and_then(|calendar| {
            http::post(format!("{calendar}/calendar"))
                .json(&json!({"workout_id": workout_id, "scheduled_date": date}))
                .send()
                .map_err(ToolError::from)
        });
        match scheduled {
            Ok(response) if response.is_success() => {}
            Ok(response) => log::warn(&format!("scheduling the saved workout failed: HTTP {}", response.status)),
            Err(err) => log::warn(&format!("scheduling the saved workout failed: {}", err.message)),
        }
    }
    let mut response = json!({
        "success": true,
        "persisted": true,
        "message": format!("Workout '{}' has been saved to your library!", pyfmt::str_of(&title)),
        "workout_id": workout_id,
        "title": title,
    });
    if let Some(date) = schedule_date {
        response["scheduled_date"] = date;
    }
    Ok(PyJson(response))
}
