//! `add_workout_to_calendar`: `POST /calendar` with the workout, date and time. The recurrence the
//! schema offers is accepted and ignored, as in the original.

use amakaflow_tool_sdk::prelude::*;
use schemars::{Schema, json_schema};

#[derive(Deserialize)]
pub struct Args {
    workout_id: Option<Value>,
    date: Option<Value>,
    time: Option<Value>,
}

pub fn schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "workout_id": {"type": "string", "description": "ID of the workout to schedule"},
            "date": {"type": "string", "description": "Date in ISO format (YYYY-MM-DD)"},
            "time": {"type": "string", "description": "Time in HH:MM format (optional)"},
            "recurrence": {
                "type": "string",
                "enum": ["daily", "weekly"],
                "description": "Repeat schedule (optional)"
            }
        },
        "required": ["workout_id", "date"]
    })
}

pub fn add_workout_to_calendar(_ctx: &Context, args: Args) -> Result<String, ToolError> {
    let (Some(workout_id), Some(date)) = (args.workout_id.filter(pyfmt::truthy), args.date.filter(pyfmt::truthy))
    else {
        return Err(ToolError::validation("Missing required fields: workout_id and date are required."));
    };
    let time = args.time.unwrap_or(Value::Null);
    let body = json!({"workout_id": workout_id, "scheduled_date": date, "scheduled_time": time});
    // The answer is not used: any 2xx (with or without a JSON body) means scheduled.
    http::post(format!("{}/calendar", super::calendar_url()?)).json(&body).send()?.error_for_status()?;
    let mut text = format!("Added workout to calendar on {}", pyfmt::str_of(&date));
    if pyfmt::truthy(&time) {
        text.push_str(&format!(" at {}", pyfmt::str_of(&time)));
    }
    Ok(text)
}
