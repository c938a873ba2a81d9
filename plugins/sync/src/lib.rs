//! The sync tools: pull recent Strava activities in (`sync_strava`), list them
//! (`get_strava_activities`), and sync workouts with Garmin (`sync_garmin`, in beta: only for users
//! whose `chat_functions_enabled` flag lists `garmin_sync`). Each sync counts against a limit of
//! `SYNC_RATE_LIMIT_PER_HOUR` (3) per user and clock hour, kept by the host.

mod garmin;
mod strava;

use amakaflow_tool_sdk::prelude::*;

/// Counts one sync of `bucket` for the caller, or refuses with the original message.
fn check_sync_limit(bucket: &str, service: &str) -> Result<(), ToolError> {
    let limit = config::get("sync_limit_per_hour").and_then(|v| v.trim().parse().ok()).unwrap_or(3);
    let decision = rate_limit::hour(bucket, limit);
    if decision.allowed {
        return Ok(());
    }
    Err(ToolError::new(
        amakaflow_tool_sdk::codes::RATE_LIMIT_EXCEEDED,
        format!(
            "{service} sync is limited to {limit} times per hour. You've used {count}/{limit}. Please try again later.",
            limit = decision.limit,
            count = decision.count
        ),
    ))
}

fn plugin() -> Plugin {
    Plugin::new()
        .function(
            "sync_strava",
            "Import recent activities from the user's connected Strava account as workout completions. \
             At most 3 syncs per hour.",
            strava::sync_strava,
        )
        .function(
            "sync_garmin",
            "Sync workouts with the user's connected Garmin account. At most 3 syncs per hour; in beta.",
            garmin::sync_garmin,
        )
        .function(
            "get_strava_activities",
            "List recent activities of the user's connected Strava account: type, distance and time.",
            strava::get_strava_activities,
        )
}

amakaflow_tool_sdk::export_plugin!(plugin);

#[cfg(test)]
mod tests;
