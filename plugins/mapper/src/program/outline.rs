//! `generate_program`: the outline of a program, week by week, from mapper-api's periodisation plan
//! (`POST /programs/periodization-plan`, best effort: without it every week is a 70 % hypertrophy
//! week), stored as a preview.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt};
use amakaflow_tool_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// The main training goal
    #[schemars(extend("enum" = ["strength", "hypertrophy", "weight_loss", "endurance", "general_fitness", "sport_specific"]))]
    goal: String,
    /// How experienced the user is
    #[schemars(extend("enum" = ["beginner", "intermediate", "advanced"]))]
    experience_level: String,
    /// Length of the program in weeks (4-16)
    #[schemars(range(min = 4, max = 16))]
    duration_weeks: i64,
    /// Training sessions per week
    #[schemars(range(min = 2, max = 6))]
    sessions_per_week: i64,
    /// Length of a session in minutes
    #[schemars(extend("enum" = [30, 45, 60, 90]))]
    time_per_session: Option<i64>,
    /// Equipment available
    equipment: Vec<String>,
    /// Days the user prefers to train (e.g., ['monday', 'wednesday', 'friday'])
    preferred_days: Option<Vec<String>>,
    /// Injuries or limitations to work around
    injuries: Option<String>,
    /// Muscle groups to emphasise (e.g., ['chest', 'back'])
    focus_areas: Option<Vec<String>>,
    /// Exercises to leave out
    avoid_exercises: Option<Vec<String>>,
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
    let Args {
        goal,
        experience_level,
        duration_weeks,
        sessions_per_week,
        time_per_session,
        equipment,
        preferred_days,
        injuries,
        focus_areas,
        avoid_exercises,
    } = args;
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
    let time_per_session = time_per_session.unwrap_or(60);
    let model = weeks_plan.first().map_or(json!("linear"), |w| get_or(w, "focus", json!("linear")));
    let weeks: Vec<Value> =
        (0..duration_weeks).map(|i| week(i + 1, weeks_plan.get(i as usize).unwrap_or(&json!({})))).collect();
    // The fields the outline and the stored parameters share, in the original's order.
    let common: serde_json::Map<String, Value> = [
        ("goal", json!(goal)),
        ("experience_level", json!(experience_level)),
        ("duration_weeks", json!(duration_weeks)),
        ("sessions_per_week", json!(sessions_per_week)),
        ("time_per_session", json!(time_per_session)),
        ("equipment", json!(equipment)),
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
    parameters.insert("preferred_days".into(), json!(preferred_days.unwrap_or_default()));
    parameters.insert("injuries".into(), json!(injuries));
    parameters.insert("focus_areas".into(), json!(focus_areas.unwrap_or_default()));
    parameters.insert("avoid_exercises".into(), json!(avoid_exercises.unwrap_or_default()));
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
