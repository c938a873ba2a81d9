//! `add_workout_to_calendar`: `POST /calendar` with the workout, date and time. The recurrence the
//! schema offers is accepted and ignored, as in the original.

use amakaflow_tool_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// ID of the workout to schedule
    workout_id: String,
    /// Date in ISO format (YYYY-MM-DD)
    date: String,
    /// Time in HH:MM format (optional)
    time: Option<String>,
    /// Repeat schedule (optional)
    #[schemars(extend("enum" = ["daily", "weekly"]))]
    #[allow(dead_code, reason = "offered to the model as the original did; calendar-api takes no recurrence")]
    recurrence: Option<String>,
}

pub fn add_workout_to_calendar(_ctx: &Context, args: Args) -> Result<String, ToolError> {
    let (workout_id, date, time) = (args.workout_id, args.date, args.time);
    if workout_id.is_empty() || date.is_empty() {
        return Err(ToolError::validation("Missing required fields: workout_id and date are required."));
    }
    let body = json!({"workout_id": workout_id, "scheduled_date": date, "scheduled_time": time});
    // The answer is not used: any 2xx (with or without a JSON body) means scheduled.
    http::post(format!("{}/calendar", super::calendar_url()?)).json(&body).send()?.error_for_status()?;
    let mut text = format!("Added workout to calendar on {date}");
    if let Some(time) = time.filter(|t| !t.is_empty()) {
        text.push_str(&format!(" at {time}"));
    }
    Ok(text)
}
