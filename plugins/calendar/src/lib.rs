//! The calendar tools, over calendar-api: schedule a workout (`add_workout_to_calendar`), list the
//! scheduled ones (`get_calendar_events`), move one (`reschedule_workout`) and cancel one
//! (`cancel_scheduled_workout`, only with `confirm: true`). Requests, results and error messages
//! are the original service's.

mod cancel;
mod events;
mod reschedule;
mod schedule;

use amakaflow_tool_sdk::prelude::*;

/// calendar-api's base URL (`CALENDAR_API_URL`).
fn calendar_url() -> Result<String, ToolError> {
    config::required("calendar_url")
}

fn plugin() -> Plugin {
    Plugin::new()
        .function(
            "add_workout_to_calendar",
            "Schedule a workout on the user's calendar for a given date and, optionally, time.",
            schedule::add_workout_to_calendar,
        )
        .function(
            "get_calendar_events",
            "List the workouts scheduled on the user's calendar between two dates. The events carry IDs \
             to reschedule or cancel them.",
            events::get_calendar_events,
        )
        .function(
            "reschedule_workout",
            "Move a scheduled workout to a new date and/or time.",
            reschedule::reschedule_workout,
        )
        .function(
            "cancel_scheduled_workout",
            "Cancel a workout scheduled on the user's calendar. Needs confirm=true, so nothing is \
             cancelled by accident.",
            cancel::cancel_scheduled_workout,
        )
}

amakaflow_tool_sdk::export_plugin!(plugin);

#[cfg(test)]
mod tests;
