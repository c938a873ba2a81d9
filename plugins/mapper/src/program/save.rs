//! `save_program`: consumes a full-program preview, saves each session (`POST /workouts/save`), and
//! with a start date schedules them (`POST /calendar`), week after week on their days. When no
//! session could be saved the preview is put back, so the user can try again.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, required_text, saved_workout_id};
use amakaflow_tool_sdk::prelude::*;

use super::dates::Day;

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// Preview ID from the generate_program_workouts result
    preview_id: String,
    /// Date to start scheduling the sessions from (YYYY-MM-DD); they go on the preferred days.
    schedule_start_date: Option<String>,
}

/// Every session of every week, in order.
fn sessions(weeks: &[Value]) -> impl Iterator<Item = &Value> {
    weeks.iter().flat_map(|w| w.get("workouts").and_then(Value::as_array).into_iter().flatten())
}

pub fn save_program(ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let preview_id = required_text(args.preview_id, "preview_id")?;
    let Some(preview) = super::load(&preview_id, "program_full", true) else {
        return Err(ToolError::not_found("Full program not found or expired. Please regenerate."));
    };
    let program = get_or(&preview, "program", json!({}));
    let weeks = get_or(&program, "weeks", json!([])).as_array().cloned().unwrap_or_default();
    let mapper = crate::mapper_url()?;

    let mut saved_ids: Vec<Value> = Vec::new();
    for workout in sessions(&weeks) {
        let body = json!({
            "profile_id": ctx.user_id,
            "workout_data": workout,
            "device": "web",
            "title": get_or(workout, "name", json!("Program Workout")),
        });
        match http::post(format!("{mapper}/workouts/save")).json(&body).send_json::<Value>() {
            Ok(result) => {
                let id = saved_workout_id(&result);
                if pyfmt::truthy(&id) {
                    saved_ids.push(id);
                }
            }
            Err(err) => log::warn(&format!("saving a program workout failed: {err}")),
        }
    }
    if saved_ids.is_empty() {
        // Nothing was saved: keep the preview for another attempt.
        let _ = state::put_json(&super::key(&preview_id), &preview, super::PREVIEW_TTL);
        return Err(ToolError::new(amakaflow_tool_sdk::codes::SAVE_FAILED, "Failed to save program workouts"));
    }

    let start = args.schedule_start_date.filter(|date| !date.is_empty());
    let mut scheduled = 0;
    if let Some(start_day) = start.as_deref().and_then(Day::parse) {
        let calendar = config::required("calendar_url")?;
        let mut index = 0;
        'weeks: for (week_index, week) in weeks.iter().enumerate() {
            let week_start = start_day.plus_days(7 * week_index as i64);
            for workout in week.get("workouts").and_then(Value::as_array).into_iter().flatten() {
                let Some(workout_id) = saved_ids.get(index) else { break 'weeks };
                let day_of_week = get_or(workout, "day_of_week", json!(0)).as_i64().unwrap_or(0);
                // The original's arithmetic, kept as is: day_of_week 0 (Monday) lands on Sunday.
                let weekday = (day_of_week - 1).rem_euclid(7);
                let date = week_start.plus_days((weekday - week_start.weekday()).rem_euclid(7));
                let body = json!({"workout_id": workout_id, "scheduled_date": date.format()});
                match http::post(format!("{calendar}/calendar")).json(&body).send() {
                    Ok(response) if response.is_success() => scheduled += 1,
                    Ok(response) => {
                        log::warn(&format!("scheduling a program workout failed: HTTP {}", response.status))
                    }
                    Err(err) => log::warn(&format!("scheduling a program workout failed: {err}")),
                }
                index += 1;
            }
        }
    } else if start.is_some() {
        log::warn("schedule_start_date is not a YYYY-MM-DD date; nothing scheduled");
    }

    Ok(PyJson(json!({
        "type": "program_saved",
        "program_name": get_or(&program, "name", json!("Training Program")),
        "workout_count": saved_ids.len(),
        "workout_ids": saved_ids,
        "scheduled_count": scheduled,
        "schedule_start_date": if scheduled > 0 { json!(start) } else { Value::Null },
    })))
}
