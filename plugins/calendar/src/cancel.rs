//! `cancel_scheduled_workout`: refuses unless `confirm` is true (`confirmation_required`), then
//! reads the event for its title (best effort) and `DELETE /calendar/{event_id}`.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, truthy_or, validate_id};
use amakaflow_tool_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// ID of the calendar event to cancel
    event_id: String,
    /// Must be true to cancel
    confirm: bool,
}

pub fn cancel_scheduled_workout(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let event_id = validate_id(&args.event_id, "event_id")?;
    if !args.confirm {
        return Err(ToolError::new(
            amakaflow_tool_sdk::codes::CONFIRMATION_REQUIRED,
            "Please confirm cancellation by setting confirm to true.",
        ));
    }
    let url = format!("{}/calendar/{event_id}", super::calendar_url()?);
    // The title only makes the message friendlier: any failure to read it is ignored.
    let title = match http::get(&url).send_json::<Value>() {
        Ok(event) => truthy_or(&event, "title", get_or(&event, "workout_title", json!("Workout"))),
        Err(_) => json!("Workout"),
    };
    http::delete(&url).send()?.error_for_status()?;
    Ok(PyJson(
        json!({"success": true, "message": format!("Cancelled: {}", pyfmt::str_of(&title)), "event_id": event_id}),
    ))
}
