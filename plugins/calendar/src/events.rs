//! `get_calendar_events`: `GET /calendar?start=&end=`, listed one line per event with its id.

use amakaflow_tool_sdk::compat::{get_or, pyfmt, truthy_or};
use amakaflow_tool_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// First day, in ISO format (YYYY-MM-DD)
    start_date: String,
    /// Last day, in ISO format (YYYY-MM-DD)
    end_date: String,
}

pub fn get_calendar_events(_ctx: &Context, args: Args) -> Result<String, ToolError> {
    let (start, end) = (args.start_date, args.end_date);
    if start.is_empty() || end.is_empty() {
        return Err(ToolError::validation("Missing required fields: start_date and end_date are required."));
    };
    let result: Value = http::get(format!("{}/calendar", super::calendar_url()?))
        .query(&[("start", &start), ("end", &end)])
        .send_json()?;
    // calendar-api answers {"events": [...]} (older versions {"results": [...]}, or a bare list).
    let events = match &result {
        Value::Array(items) => items.clone(),
        other => get_or(other, "events", get_or(other, "results", json!([]))).as_array().cloned().unwrap_or_default(),
    };
    if events.is_empty() {
        return Ok(format!("No workouts scheduled between {start} and {end}."));
    }
    let mut lines = vec![format!("Found {} scheduled workout(s):", events.len())];
    for (i, event) in events.iter().enumerate() {
        let title = truthy_or(event, "title", get_or(event, "workout_title", json!("Workout")));
        let date = truthy_or(event, "scheduled_date", get_or(event, "date", json!("Unknown date")));
        let time = truthy_or(event, "scheduled_time", get_or(event, "time", Value::Null));
        let id = truthy_or(event, "id", get_or(event, "event_id", Value::Null));
        let mut line = format!("{}. {} - {}", i + 1, pyfmt::str_of(&title), pyfmt::str_of(&date));
        if pyfmt::truthy(&time) {
            line.push_str(&format!(" at {}", pyfmt::str_of(&time)));
        }
        if pyfmt::truthy(&id) {
            line.push_str(&format!(" (ID: {})", pyfmt::str_of(&id)));
        }
        lines.push(line);
    }
    Ok(lines.join("\n"))
}
