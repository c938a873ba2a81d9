//! `reschedule_workout`: `PUT /calendar/{event_id}` with the new date and/or time.

use amakaflow_tool_sdk::compat::{PyJson, validate_id};
use amakaflow_tool_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// ID of the calendar event to move
    event_id: String,
    /// New date in ISO format (YYYY-MM-DD)
    new_date: Option<String>,
    /// New time in HH:MM format (optional)
    new_time: Option<String>,
}

pub fn reschedule_workout(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let event_id = validate_id(&args.event_id, "event_id")?;
    let new_date = args.new_date.filter(|d| !d.is_empty());
    let new_time = args.new_time.filter(|t| !t.is_empty());
    if new_date.is_none() && new_time.is_none() {
        return Err(ToolError::validation("At least one of new_date or new_time must be provided."));
    }
    let mut body = json!({});
    let mut message = "Workout rescheduled".to_string();
    if let Some(date) = &new_date {
        body["scheduled_date"] = json!(date);
        message.push_str(&format!(" to {date}"));
    }
    if let Some(time) = &new_time {
        body["scheduled_time"] = json!(time);
        message.push_str(&format!(" at {time}"));
    }
    http::put(format!("{}/calendar/{event_id}", super::calendar_url()?)).json(&body).send()?.error_for_status()?;
    Ok(PyJson(json!({"success": true, "message": message, "event_id": event_id})))
}
