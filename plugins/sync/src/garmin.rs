//! `sync_garmin`: only for users whose `chat_functions_enabled` flag lists `garmin_sync`
//! (`feature_disabled` otherwise), with valid workout ids, within the hourly limit; then
//! `POST /garmin/sync {"workout_ids"}`.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt, validate_id_list};
use amakaflow_tool_sdk::prelude::*;

use super::check_sync_limit;

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// IDs of the workouts to sync with Garmin
    workout_ids: Vec<String>,
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
