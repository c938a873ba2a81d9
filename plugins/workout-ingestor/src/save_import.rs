//! `save_imported_workout`: the workout of an earlier import, by its source URL: fetched again from
//! the ingestor (which caches it) for a platform URL, or from the 15-minute preview for an uploaded
//! image; then `POST /workouts/save` to mapper-api with the source recorded.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, saved_workout_id};
use amakaflow_tool_sdk::prelude::*;

use crate::image;
use crate::ingestion;
use crate::platforms::{self, Platform};

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// The URL the workout was imported from (YouTube, TikTok, …)
    source_url: String,
    /// Optional title to use instead of the extracted one
    title_override: Option<String>,
}

fn fetch_failed(message: impl Into<String>) -> ToolError {
    ToolError::new(amakaflow_tool_sdk::codes::FETCH_FAILED, message)
}

/// The imported workout behind `source_url`.
fn workout_for(source_url: &str) -> Result<Value, ToolError> {
    if source_url.starts_with("uploaded:") {
        return state::get_json::<Value>(&image::key(source_url))
            .ok_or_else(|| fetch_failed("No workout data found for this upload. Please import the image again."));
    }
    let Some(platform) = platforms::detect(source_url) else {
        let netloc = platforms::split(source_url).map(|(_, netloc)| netloc).unwrap_or_default();
        return Err(ToolError::validation(format!(
            "Unsupported source URL domain: {}",
            platforms::bare_domain(&netloc)
        )));
    };
    let body = match platform {
        Platform::TikTok => json!({"url": source_url, "mode": "auto"}),
        _ => json!({"url": source_url}),
    };
    let result: Value = http::post(format!("{}{}", crate::ingestor_url()?, platform.endpoint()))
        .json(&body)
        .send_json()
        .map_err(|err| fetch_failed(format!("Failed to fetch workout data: {}", ToolError::from(err).message)))?;
    ingestion::workout_data(&result).ok_or_else(|| fetch_failed("No workout data found in ingestor response."))
}

pub fn save_imported_workout(ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let source_url = args.source_url;
    if source_url.is_empty() {
        return Err(ToolError::validation(
            "Missing required field: source_url. Provide the URL the workout was imported from.",
        ));
    }
    let workout = workout_for(&source_url)?;
    let title = [json!(args.title_override), get_or(&workout, "title", Value::Null)]
        .into_iter()
        .find(pyfmt::truthy)
        .unwrap_or_else(|| get_or(&workout, "name", json!("Imported Workout")));
    let body = json!({
        "profile_id": ctx.user_id,
        "workout_data": workout,
        "sources": [source_url],
        "device": "web",
        "title": title,
    });
    let result: Value =
        http::post(format!("{}/workouts/save", crate::mapper_url()?)).json(&body).send_json().map_err(|err| {
            ToolError::new(
                amakaflow_tool_sdk::codes::SAVE_FAILED,
                format!("Failed to save workout to library: {}", ToolError::from(err).message),
            )
        })?;
    let workout_id = saved_workout_id(&result);
    if !pyfmt::truthy(&workout_id) {
        return Err(ToolError::new(
            amakaflow_tool_sdk::codes::SAVE_FAILED,
            "Workout was saved but no ID was returned. Please check your library.",
        ));
    }
    if source_url.starts_with("uploaded:") {
        state::delete(&image::key(&source_url));
    }
    Ok(PyJson(json!({
        "success": true,
        "persisted": true,
        "message": format!("Workout '{}' has been saved to your library!", pyfmt::str_of(&title)),
        "workout_id": workout_id,
        "title": title,
        "location": "The workout is now available in your 'My Workouts' tab.",
    })))
}
