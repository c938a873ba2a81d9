//! `generate_program_workouts`: fills every week of an approved outline with its sessions (on the
//! preferred days when given), replacing the outline preview by a full-program preview.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, required_text};
use amakaflow_tool_sdk::prelude::*;

const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// Preview ID from the generate_program result
    preview_id: String,
}

/// The session of `week` number `session` (0-based), on the `session`-th preferred day if any.
fn session(week: &Value, session: usize, preferred_days: &[Value], parameters: &Value) -> Value {
    let day_of_week = match preferred_days.get(session) {
        Some(day) => {
            let name = pyfmt::str_of(day).to_lowercase();
            DAYS.iter().position(|d| *d == name).unwrap_or(session)
        }
        None => session,
    };
    json!({
        "day_of_week": day_of_week,
        "name": format!("Week {} - Session {}", pyfmt::str_of(&get_or(week, "week_number", Value::Null)), session + 1),
        "workout_type": get_or(week, "focus", json!("full_body")),
        "target_duration_minutes": get_or(parameters, "time_per_session", json!(60)),
        "exercises": [],
    })
}

pub fn generate_program_workouts(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let preview_id = required_text(args.preview_id, "preview_id")?;
    let Some(outline) = super::load(&preview_id, "program_outline", false) else {
        return Err(ToolError::not_found("Program outline not found or expired. Please generate the program again."));
    };
    let mut program = get_or(&outline, "program", json!({}));
    let parameters = get_or(&outline, "parameters", json!({}));
    let sessions_per_week = get_or(&parameters, "sessions_per_week", json!(3)).as_u64().unwrap_or(3) as usize;
    let preferred_days = get_or(&parameters, "preferred_days", json!([])).as_array().cloned().unwrap_or_default();
    if let Some(weeks) = program.get_mut("weeks").and_then(Value::as_array_mut) {
        for week in weeks.iter_mut() {
            let sessions: Vec<Value> =
                (0..sessions_per_week).map(|s| session(week, s, &preferred_days, &parameters)).collect();
            week["workouts"] = Value::Array(sessions);
        }
    }
    let new_preview_id = super::store("program_full", &program, &parameters)?;
    state::delete(&super::key(&preview_id));
    Ok(PyJson(json!({
        "type": "program_workouts_generated",
        "preview_id": new_preview_id,
        "persisted": false,
        "program": program,
        "next_step": "Present the full program with all workouts to the user. Ask if they want to save it to their \
                      library. If confirmed, call save_program with the preview_id. Optionally ask if they want to \
                      schedule it starting from a specific date.",
    })))
}
