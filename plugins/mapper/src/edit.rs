//! `edit_workout`: checks the JSON Patch operations, then `PATCH /workouts/{id} {"operations"}`.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, validate_id};
use amakaflow_tool_sdk::prelude::*;

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// ID of the workout to change
    workout_id: String,
    /// JSON Patch operations (op: replace/add/remove, path, value)
    // Sent to mapper-api as given, so kept as JSON; the items' shape is the schema's to check.
    #[schemars(extend("items" = {
        "type": "object",
        "properties": {
            "op": {"type": "string", "enum": ["replace", "add", "remove"]},
            "path": {"type": "string"},
            "value": {}
        },
        "required": ["op", "path"]
    }))]
    operations: Vec<Value>,
}

pub fn edit_workout(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let workout_id = validate_id(&args.workout_id, "workout_id")?;
    if args.operations.is_empty() {
        return Err(ToolError::validation("Missing required field: operations"));
    }
    for operation in &args.operations {
        let op = get_or(operation, "op", Value::Null);
        if !matches!(op.as_str(), Some("replace" | "add" | "remove")) {
            return Err(ToolError::validation(format!(
                "Invalid operation: {}. Must be replace, add, or remove.",
                pyfmt::str_of(&op)
            )));
        }
        if !pyfmt::truthy(&get_or(operation, "path", Value::Null)) {
            return Err(ToolError::validation("Each operation must have a path."));
        }
    }
    http::patch(format!("{}/workouts/{workout_id}", super::mapper_url()?))
        .json(&json!({"operations": args.operations}))
        .send()?
        .error_for_status()?;
    Ok(PyJson(json!({"success": true, "message": "Workout updated successfully", "workout_id": workout_id})))
}
