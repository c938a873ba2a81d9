//! `generate_workout` (`POST /workouts/parse-voice`, kept as a preview) and `save_and_push_workout`
//! (the preview consumed, `POST /workouts/save` to mapper-api, optionally `POST /calendar`). A
//! preview is private to its user (the host scopes state to plugin and user) and lives 15 minutes;
//! when saving fails it is put back, so the user can try again.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, required_text, saved_workout_id, uuid4};
use amakaflow_tool_sdk::prelude::*;

use crate::{PREVIEW_TTL, ingestion};

/// A preview's state key.
fn key(preview_id: &str) -> String {
    format!("workout:{preview_id}")
}

#[derive(Deserialize, JsonSchema)]
pub struct GenerateArgs {
    /// What the user wants, in their words
    description: String,
    /// Target length in minutes
    duration_minutes: Option<i64>,
    /// Equipment available
    equipment: Option<Vec<String>>,
    /// Difficulty level
    #[schemars(extend("enum" = ["beginner", "intermediate", "advanced"]))]
    difficulty: Option<String>,
}

pub fn generate_workout(_ctx: &Context, args: GenerateArgs) -> Result<PyJson, ToolError> {
    let mut body = json!({"transcription": args.description});
    // Only what the user said: empty values are left out, as the original did.
    if let Some(difficulty) = args.difficulty.filter(|d| !d.is_empty()) {
        body["difficulty"] = json!(difficulty);
    }
    if let Some(duration) = args.duration_minutes.filter(|d| *d != 0) {
        body["duration_minutes"] = json!(duration);
    }
    if let Some(equipment) = args.equipment.filter(|e| !e.is_empty()) {
        body["equipment"] = json!(equipment);
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

#[derive(Deserialize, JsonSchema)]
pub struct SaveArgs {
    /// Preview ID from the generate_workout result
    preview_id: String,
    /// Optional date to schedule the workout on (YYYY-MM-DD)
    schedule_date: Option<String>,
}

pub fn save_and_push_workout(ctx: &Context, args: SaveArgs) -> Result<PyJson, ToolError> {
    let preview_id = required_text(args.preview_id, "preview_id")?;
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
    let schedule_date = args.schedule_date.filter(|d| !d.is_empty());
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
        response["scheduled_date"] = json!(date);
    }
    Ok(PyJson(response))
}
