//! `export_workout`: `GET /export/{id}?export_format=` and the file content mapper-api renders.

use amakaflow_tool_sdk::compat::{PyJson, get_or, validate_id};
use amakaflow_tool_sdk::prelude::*;

/// The formats and their names, in the order the error message lists them.
const FORMATS: [(&str, &str); 4] = [
    ("yaml", "Garmin YAML"),
    ("zwo", "Zwift ZWO"),
    ("workoutkit", "Apple WorkoutKit"),
    ("fit_metadata", "FIT metadata"),
];

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// ID of the workout to export
    workout_id: String,
    /// Export format (yaml=Garmin, zwo=Zwift, workoutkit=Apple Watch)
    #[schemars(extend("enum" = ["yaml", "zwo", "workoutkit", "fit_metadata"]))]
    format: String,
}

pub fn export_workout(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let workout_id = validate_id(&args.workout_id, "workout_id")?;
    let format = args.format;
    if format.is_empty() {
        return Err(ToolError::validation("Missing required field: format"));
    }
    let Some((_, name)) = FORMATS.iter().find(|(key, _)| *key == format) else {
        let valid: Vec<&str> = FORMATS.iter().map(|(key, _)| *key).collect();
        return Err(ToolError::validation(format!("Invalid format: {format}. Valid formats: {}", valid.join(", "))));
    };
    let result: Value = http::get(format!("{}/export/{workout_id}", super::mapper_url()?))
        .query(&[("export_format", &format)])
        .send_json()?;
    Ok(PyJson(json!({
        "success": true,
        "format": format,
        "format_name": name,
        "workout_id": workout_id,
        "content": get_or(&result, "content", Value::Null),
        "download_url": get_or(&result, "download_url", Value::Null),
    })))
}
