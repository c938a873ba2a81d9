//! `log_workout_completion` (`POST /workouts/complete`) and `get_workout_history`
//! (`GET /workouts/completions?limit=&start_date=&end_date=`, listed one line per completion).

use amakaflow_tool_sdk::prelude::*;
use schemars::{Schema, json_schema};

#[derive(Deserialize)]
pub struct LogArgs {
    workout_id: Option<String>,
    duration_minutes: Option<Value>,
    notes: Option<Value>,
    rating: Option<Value>,
}

pub fn log_schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "workout_id": {"type": "string", "description": "ID of the completed workout"},
            "duration_minutes": {"type": "integer", "description": "How long it actually took, in minutes"},
            "notes": {"type": "string", "description": "The user's notes about the session"},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5, "description": "Rating from 1 to 5"}
        },
        "required": ["workout_id"]
    })
}

/// The original accepted a Python `int` from 1 to 5 (`True` counting as 1).
fn valid_rating(rating: &Value) -> bool {
    match rating {
        Value::Number(n) => n.as_i64().is_some_and(|r| (1..=5).contains(&r)),
        Value::Bool(b) => *b,
        _ => false,
    }
}

pub fn log_workout_completion(_ctx: &Context, args: LogArgs) -> Result<PyJson, ToolError> {
    let workout_id = validate_id(args.workout_id.as_deref(), "workout_id")?;
    let rating = args.rating.filter(|r| !r.is_null());
    if rating.as_ref().is_some_and(|r| !valid_rating(r)) {
        return Err(ToolError::validation("Rating must be an integer between 1 and 5"));
    }
    let mut body = json!({"workout_id": workout_id});
    if let Some(duration) = args.duration_minutes.filter(pyfmt::truthy) {
        body["duration_minutes"] = duration;
    }
    if let Some(notes) = args.notes.filter(pyfmt::truthy) {
        body["notes"] = notes;
    }
    if let Some(rating) = rating {
        body["rating"] = rating;
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

#[derive(Deserialize)]
pub struct HistoryArgs {
    limit: Option<Value>,
    start_date: Option<Value>,
    end_date: Option<Value>,
}

pub fn history_schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "limit": {"type": "integer", "description": "How many completions (default 10, max 50)"},
            "start_date": {"type": "string", "description": "From this date (YYYY-MM-DD)"},
            "end_date": {"type": "string", "description": "Up to this date (YYYY-MM-DD)"}
        }
    })
}

pub fn get_workout_history(_ctx: &Context, args: HistoryArgs) -> Result<String, ToolError> {
    let limit = match args.limit.unwrap_or(json!(10)) {
        limit if limit.as_f64().is_some_and(|n| n > 50.0) => json!(50),
        limit => limit,
    };
    let limit_text = pyfmt::str_of(&limit);
    let mut query: Vec<(&str, String)> = vec![("limit", limit_text)];
    for (key, value) in [("start_date", &args.start_date), ("end_date", &args.end_date)] {
        if let Some(value) = value.as_ref().filter(|v| pyfmt::truthy(v)) {
            query.push((key, pyfmt::str_of(value)));
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
