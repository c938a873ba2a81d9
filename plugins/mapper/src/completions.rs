//! `log_workout_completion` (`POST /workouts/complete`) and `get_workout_history`
//! (`GET /workouts/completions?limit=&start_date=&end_date=`, listed one line per completion).

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, truthy_or, validate_id};
use amakaflow_tool_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
pub struct LogArgs {
    /// ID of the completed workout
    workout_id: String,
    /// How long it actually took, in minutes
    duration_minutes: Option<i64>,
    /// The user's notes about the session
    notes: Option<String>,
    /// Rating from 1 to 5
    #[schemars(range(min = 1, max = 5))]
    rating: Option<i64>,
}

pub fn log_workout_completion(_ctx: &Context, args: LogArgs) -> Result<PyJson, ToolError> {
    let workout_id = validate_id(&args.workout_id, "workout_id")?;
    if args.rating.is_some_and(|r| !(1..=5).contains(&r)) {
        return Err(ToolError::validation("Rating must be an integer between 1 and 5"));
    }
    let mut body = json!({"workout_id": workout_id});
    if let Some(duration) = args.duration_minutes.filter(|d| *d != 0) {
        body["duration_minutes"] = json!(duration);
    }
    if let Some(notes) = args.notes.filter(|n| !n.is_empty()) {
        body["notes"] = json!(notes);
    }
    if let Some(rating) = args.rating {
        body["rating"] = json!(rating);
    }
    let result: Value = http::post(format!("{}/workouts/complete", super::mapper_url()?)).json(&body).send_json()?;
    let completion_id = truthy_or(&result, "id", get_or(&result, "completion_id", Value::Null));
    Ok(PyJson(json!({
        "success": true,
        "message": "Workout completion logged",
        "workout_id": workout_id,
        "completion_id": completion_id,
    })))
}

#[derive(Deserialize, JsonSchema)]
pub struct HistoryArgs {
    /// How many completions (default 10, max 50)
    limit: Option<i64>,
    /// From this date (YYYY-MM-DD)
    start_date: Option<String>,
    /// Up to this date (YYYY-MM-DD)
    end_date: Option<String>,
}

pub fn get_workout_history(_ctx: &Context, args: HistoryArgs) -> Result<String, ToolError> {
    let limit = args.limit.unwrap_or(10).min(50);
    let mut query: Vec<(&str, String)> = vec![("limit", limit.to_string())];
    for (key, value) in [("start_date", args.start_date), ("end_date", args.end_date)] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            query.push((key, value));
        }
    }
    let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let result: Value =
        http::get(format!("{}/workouts/completions", super::mapper_url()?)).query(&pairs).send_json()?;
    let completions = get_or(&result, "completions", get_or(&result, "results", json!([])));
    let completions = completions.as_array().cloned().unwrap_or_default();
    if completions.is_empty() {
        return Ok("No workout completions found for the specified period.".to_string());
    }
    let mut lines = vec![format!("Found {} workout completion(s):", completions.len())];
    for (i, c) in completions.iter().enumerate() {
        let title = truthy_or(c, "workout_title", get_or(c, "title", json!("Workout")));
        let date = get_or(c, "completed_at", get_or(c, "date", json!("Unknown date")));
        let duration = get_or(c, "duration_minutes", Value::Null);
        let rating = get_or(c, "rating", Value::Null);
        let mut line = format!("{}. {} - {}", i + 1, pyfmt::str_of(&title), pyfmt::str_of(&date));
        if pyfmt::truthy(&duration) {
            line.push_str(&format!(" ({} min)", pyfmt::str_of(&duration)));
        }
        if pyfmt::truthy(&rating) {
            line.push_str(&format!(" - {}/5", pyfmt::str_of(&rating)));
        }
        lines.push(line);
    }
    Ok(lines.join("\n"))
}
