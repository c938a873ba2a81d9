//! `generate_program`: the outline of a program, week by week, from mapper-api's periodisation plan
//! (`POST /programs/periodization-plan`, best effort: without it every week is a 70 % hypertrophy
//! week), stored as a preview.

use amakaflow_tool_sdk::prelude::*;
use schemars::{Schema, json_schema};

#[derive(Deserialize)]
pub struct Args {
    goal: Option<String>,
    experience_level: Option<Value>,
    duration_weeks: Option<i64>,
    sessions_per_week: Option<Value>,
    equipment: Option<Value>,
    time_per_session: Option<Value>,
    preferred_days: Option<Value>,
    injuries: Option<Value>,
    focus_areas: Option<Value>,
    avoid_exercises: Option<Value>,
}

pub fn schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "goal": {
                "type": "string",
                "enum": ["strength", "hypertrophy", "weight_loss", "endurance", "general_fitness", "sport_specific"],
                "description": "The main training goal"
            },
            "experience_level": {
                "type": "string",
                "enum": ["beginner", "intermediate", "advanced"],
                "description": "How experienced the user is"
            },
            "duration_weeks": {"type": "integer", "minimum": 4, "maximum": 16, "description": "Length of the program in weeks (4-16)"},
            "sessions_per_week": {"type": "integer", "minimum": 2, "maximum": 6, "description": "Training sessions per week"},
            "time_per_session": {"type": "integer", "enum": [30, 45, 60, 90], "description": "Length of a session in minutes"},
            "equipment": {"type": "array", "items": {"type": "string"}, "description": "Equipment available"},
            "preferred_days": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Days the user prefers to train (e.g., ['monday', 'wednesday', 'friday'])"
            },
            "injuries": {"type": "string", "description": "Injuries or limitations to work around"},
            "focus_areas": {"type": "array", "items": {"type": "string"}, "description": "Muscle groups to emphasise (e.g., ['chest', 'back'])"},
            "avoid_exercises": {"type": "array", "items": {"type": "string"}, "description": "Exercises to leave out"}
        },
        "required": ["goal", "experience_level", "duration_weeks", "sessions_per_week", "equipment"]
    })
}

/// One week of the outline from the plan's week `wp` (`{}` when the plan has none).
fn week(number: i64, wp: &Value) -> Value {
    let intensity = wp.get("intensity_percent").filter(|v| pyfmt::truthy(v)).and_then(Value::as_f64);
    json!({
        "week_number": number,
        "focus": get_or(wp, "focus", json!("hypertrophy")),
        // Python's int(x * 100) truncates toward zero, as `as` does.
        "intensity_percentage": intensity.map_or(70, |p| (p * 100.0) as i64),
        "volume_modifier": get_or(wp, "volume_modifier", json!(1.0)),
        "is_deload": get_or(wp, "is_deload", json!(false)),
        "notes": get_or(wp, "notes", Value::Null),
        "workouts": [],
    })
}

pub fn generate_program(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let (Some(goal), Some(experience_level), Some(duration_weeks), Some(sessions_per_week)) = (
        args.goal,
        args.experience_level.filter(|v| !v.is_null()),
        args.duration_weeks,
        args.sessions_per_week.filter(|v| !v.is_null()),
    ) else {
        return Err(ToolError::validation(
            "Missing required fields: goal, experience_level, duration_weeks, sessions_per_week",
        ));
    };
    if !(4..=52).contains(&duration_weeks) {
        return Err(ToolError::validation("duration_weeks must be between 4 and 52"));
    }
    // Best effort: without the plan the outline uses the defaults.
    let plan = http::post(format!("{}/programs/periodization-plan", crate::mapper_url()?))
        .json(&json!({"duration_weeks": duration_weeks, "goal": goal, "experience_level": experience_level}))
        .send_json::<Value>();
    let weeks_plan = match plan {
        Ok(result) => get_or(&result, "weeks", json!([])).as_array().cloned().unwrap_or_default(),
        Err(err) => {
            log::warn(&format!("periodization plan unavailable: {err}"));
            Vec::new()
        }
    };
    let equipment = args.equipment.unwrap_or(json!([]));
    let time_per_session = args.time_per_session.unwrap_or(json!(60));
    let model = weeks_plan.first().map_or(json!("linear"), |w| get_or(w, "focus", json!("linear")));
    let weeks: Vec<Value> =
        (0..duration_weeks).map(|i| week(i + 1, weeks_plan.get(i as usize).unwrap_or(&json!({})))).collect();
    // The fields the outline and the stored parameters share, in the original's order.
    let common: serde_json::Map<String, Value> = [
        ("goal", json!(goal)),
        ("experience_level", experience_level),
        ("duration_weeks", json!(duration_weeks)),
        ("sessions_per_week", sessions_per_week),
        ("time_per_session", time_per_session),
        ("equipment", equipment),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    let mut program = serde_json::Map::new();
    program.insert(
        "name".into(),
        json!(format!("{duration_weeks}-Week {} Program", pyfmt::title(&goal.replace('_', " ")))),
    );
    program.extend(common.clone());
    program.insert("periodization_model".into(), model);
    program.insert("weeks".into(), Value::Array(weeks));
    let mut parameters = common;
    parameters.insert("preferred_days".into(), args.preferred_days.unwrap_or(json!([])));
    parameters.insert("injuries".into(), args.injuries.unwrap_or(Value::Null));
    parameters.insert("focus_areas".into(), args.focus_areas.unwrap_or(json!([])));
    parameters.insert("avoid_exercises".into(), args.avoid_exercises.unwrap_or(json!([])));
    let (program, parameters) = (Value::Object(program), Value::Object(parameters));
    let preview_id = super::store("program_outline", &program, &parameters)?;
    Ok(PyJson(json!({
        "type": "program_outline",
        "preview_id": preview_id,
        "persisted": false,
        "program": program,
        "next_step": "Present this program outline to the user. Show the week-by-week structure including focus, \
                      intensity, and deload weeks. Ask if they approve the structure. If confirmed, call \
                      generate_program_workouts with the preview_id.",
    })))
}
