//! `reschedule_workout`: `PUT /calendar/{event_id}` with the new date and/or time.

use amakaflow_tool_sdk::prelude::*;
use schemars::{Schema, json_schema};

#[derive(Deserialize)]
pub struct Args {
    event_id: Option<String>,
    new_date: Option<Value>,
    new_time: Option<Value>,
}

pub fn schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "event_id": {"type": "string", "description": "ID of the calendar event to move"},
            "new_date": {"type": "string", "description": "New date in ISO format (YYYY-MM-DD)"},
            "new_time": {"type": "string", "description": "New time in HH:MM format (optional)"}
        },
        "required": ["event_id"]
    })
}

pub fn reschedule_workout(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let event_id = validate_id(args.event_id.as_deref(), "event_id")?;
    let new_date = args.new_date.filter(pyfmt::truthy);
    let new_time = args.new_time.filter(pyfmt::truthy);
    if new_date.is_none() && new_time.is_none() {
        return Err(ToolError::validation("At least one of new_date or new_time must be provided."));
    }
    let mut body = json!({});
    let mut message = "Workout rescheduled".to_string();
    if let Some(date) = &new_date {
        body["scheduled_date"] = date.clone();
        message.push_str(&format!(" to {}", pyfmt::str_of(date)));
    }
    if let Some(time) = &new_time {
        body["scheduled_time"] = time.clone();
        message.push_str(&format!(" at {}", pyfmt::str_of(time)));
    }
    http::put(format!("{}/calendar/{event_id}", super::calendar_url()?)).json(&body).send()?.error_for_status()?;
    Ok(PyJson(json!({"success": true, "message": message, "event_id": event_id})))
}
