//! `sync_strava` (`POST /strava/sync {"days_back"}`, rate limited) and `get_strava_activities`
//! (`GET /strava/activities?limit=&userId=`), with the original's text results.

use amakaflow_tool_sdk::compat::{get_or, pyfmt};
use amakaflow_tool_sdk::prelude::*;

use super::check_sync_limit;

#[derive(Deserialize, JsonSchema)]
pub struct SyncArgs {
    /// How many days back to sync (default: 7, max: 30)
    days_back: Option<i64>,
}

pub fn strava_url() -> Result<String, ToolError> {
    config::required("strava_url")
}

/// ` - 8.0km` as Python's `f" - {km:.1f}km"` writes it.
fn km(value: &Value) -> String {
    match value.as_f64() {
        Some(f) => format!("{f:.1}"),
        None => pyfmt::str_of(value),
    }
}

pub fn sync_strava(_ctx: &Context, args: SyncArgs) -> Result<String, ToolError> {
    let days_back = args.days_back.unwrap_or(7).min(30);
    check_sync_limit("sync_strava", "Strava")?;
    let result: Value =
        http::post(format!("{}/strava/sync", strava_url()?)).json(&json!({"days_back": days_back})).send_json()?;
    let synced = get_or(&result, "synced_count", json!(0));
    let activities = get_or(&result, "activities", json!([])).as_array().cloned().unwrap_or_default();
    if synced.as_f64() == Some(0.0) {
        return Ok("No new activities found to sync from Strava.".to_string());
    }
    let mut lines = vec![format!("Synced {} activity(ies) from Strava:", pyfmt::str_of(&synced))];
    for activity in activities.iter().take(10) {
        let name = get_or(activity, "name", json!("Activity"));
        let kind = get_or(activity, "type", json!(""));
        let distance = get_or(activity, "distance_km", Value::Null);
        let duration = get_or(activity, "duration_minutes", Value::Null);
        let mut line = format!("- {}", pyfmt::str_of(&name));
        if pyfmt::truthy(&kind) {
            line.push_str(&format!(" ({})", pyfmt::str_of(&kind)));
        }
        if pyfmt::truthy(&distance) {
            line.push_str(&format!(" - {}km", km(&distance)));
        }
        if pyfmt::truthy(&duration) {
            line.push_str(&format!(", {}min", pyfmt::str_of(&duration)));
        }
        lines.push(line);
    }
    if activities.len() > 10 {
        lines.push(format!("... and {} more", activities.len() - 10));
    }
    Ok(lines.join("\n"))
}

#[derive(Deserialize, JsonSchema)]
pub struct ActivitiesArgs {
    /// How many activities to return (default: 10, max: 30)
    limit: Option<i64>,
}

/// `elapsed // 60`: an int stays an int, a float is floored and stays a float.
fn whole_minutes(elapsed: &Value) -> Value {
    match (elapsed.as_i64(), elapsed.as_f64()) {
        (Some(seconds), _) => json!(seconds.div_euclid(60)),
        (None, Some(seconds)) => json!((seconds / 60.0).floor()),
        _ => json!(0),
    }
}

pub fn get_strava_activities(ctx: &Context, args: ActivitiesArgs) -> Result<String, ToolError> {
    let limit = args.limit.unwrap_or(10).min(30);
    let result: Value = http::get(format!("{}/strava/activities", strava_url()?))
        .query(&[("limit", &limit.to_string()), ("userId", &ctx.user_id)])
        .send_json()?;
    let activities = match &result {
        Value::Array(items) => items.clone(),
        other => {
            get_or(other, "activities", get_or(other, "results", json!([]))).as_array().cloned().unwrap_or_default()
        }
    };
    if activities.is_empty() {
        return Ok("No recent Strava activities found.".to_string());
    }
    let shown = usize::try_from(limit).unwrap_or(0);
    let mut lines = vec![format!("Found {} recent Strava activity(ies):", activities.len())];
    for (i, activity) in activities.iter().take(shown).enumerate() {
        let name = get_or(activity, "name", json!("Activity"));
        let kind = get_or(activity, "type", json!(""));
        let date = get_or(activity, "start_date", json!(""));
        let meters = get_or(activity, "distance", json!(0)).as_f64().unwrap_or(0.0);
        let minutes = whole_minutes(&get_or(activity, "elapsed_time", json!(0)));
        let mut line = format!("{}. {}", i + 1, pyfmt::str_of(&name));
        if pyfmt::truthy(&kind) {
            line.push_str(&format!(" ({})", pyfmt::str_of(&kind)));
        }
        if pyfmt::truthy(&date) {
            let date = pyfmt::str_of(&date);
            line.push_str(&format!(" - {}", date.chars().take(10).collect::<String>()));
        }
        if meters / 1000.0 > 0.0 {
            line.push_str(&format!(" - {:.1}km", meters / 1000.0));
        }
        if minutes.as_f64().is_some_and(|m| m > 0.0) {
            line.push_str(&format!(", {}min", pyfmt::str_of(&minutes)));
        }
        lines.push(line);
    }
    Ok(lines.join("\n"))
}
