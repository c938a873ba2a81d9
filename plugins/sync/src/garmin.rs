//! `sync_garmin`: only for users whose `chat_functions_enabled` flag lists `garmin_sync`
//! (`feature_disabled` otherwise), with valid workout ids, within the hourly limit; then
//! `POST /garmin/sync {"workout_ids"}`.

use amakaflow_tool_sdk::prelude::*;
use schemars::{Schema, json_schema};

use super::check_sync_limit;

#[derive(Deserialize)]
pub struct Args {
    #[serde(default)]
    workout_ids: Vec<Value>,
}

pub fn schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "workout_ids": {
                "type": "array",
                "items": {"type": "string"},
                "description": "IDs of the workouts to sync with Garmin"
            }
        },
        "required": ["workout_ids"]
    })
}

pub fn sync_garmin(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    if !flags::list_contains("chat_functions_enabled", "garmin_sync") {
        return Err(ToolError::new(
            amakaflow_tool_sdk::codes::FEATURE_DISABLED,
            "Garmin sync is currently in beta. Please check back later.",
        ));
    }
    validate_id_list(&args.workout_ids, "workout_ids")?;
    check_sync_limit("sync_garmin", "Garmin")?;
    let result: Value = http::post(format!("{}/garmin/sync", config::required("garmin_url")?))
        .json(&json!({"workout_ids": args.workout_ids}))
        .send_json()?;
    let synced = get_or(&result, "synced_count", json!(0));
    Ok(PyJson(json!({
        "success": true,
        "message": format!("Synced {} workout(s) from Garmin", pyfmt::str_of(&synced)),
        "synced_count": synced,
    })))
}
