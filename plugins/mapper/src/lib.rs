//! The workout-library tools, over mapper-api: change a workout (`edit_workout`), export it
//! (`export_workout`), copy it (`duplicate_workout`), record and list completions
//! (`log_workout_completion`, `get_workout_history`), show one (`get_workout_details`), and the
//! three steps of a training program (`generate_program` → `generate_program_workouts` →
//! `save_program`, previews kept in host state between them). Requests, results and error
//! messages are the original service's.

mod completions;
mod details;
mod duplicate;
mod edit;
mod export;
mod program;

use amakaflow_tool_sdk::prelude::*;

/// mapper-api's base URL (`MAPPER_API_URL`).
fn mapper_url() -> Result<String, ToolError> {
    config::required("mapper_url")
}

/// A workout as mapper-api returns it: `GET /workouts/{id}` wraps it as `{"success", "workout"}`;
/// a bare workout object is taken as is.
fn unwrap_workout(response: Value) -> Value {
    match response {
        Value::Object(mut map) if map.get("workout").is_some_and(Value::is_object) => {
            map.remove("workout").unwrap_or_default()
        }
        other => other,
    }
}

fn plugin() -> Plugin {
    Plugin::new()
        .function(
            "edit_workout",
            "Change a workout's title, description, tags or exercises with JSON Patch operations.",
            edit::edit_workout,
        )
        .function("export_workout", "Export a workout in a format for a fitness device or app.", export::export_workout)
        .function(
            "duplicate_workout",
            "Make a copy of one of the user's workouts, optionally changed.",
            duplicate::duplicate_workout,
        )
        .function(
            "log_workout_completion",
            "Record that the user completed a workout, with optional duration, notes and rating.",
            completions::log_workout_completion,
        )
        .function(
            "get_workout_history",
            "List the workouts the user completed, optionally between two dates.",
            completions::get_workout_history,
        )
        .function(
            "get_workout_details",
            "Show one workout in detail: title, description, tags, duration and exercises.",
            details::get_workout_details,
        )
        .function(
            "generate_program",
            "Design a multi-week training program from the user's goal, experience and schedule. Returns an \
             outline (weeks, focus, intensity, deloads) for the user to approve; nothing is saved. Once \
             approved, call generate_program_workouts with the preview_id.",
            program::outline::generate_program,
        )
        .function(
            "generate_program_workouts",
            "Create the workouts of an approved program outline (preview_id from generate_program). Returns \
             the full program for the user to confirm; once confirmed, call save_program.",
            program::sessions::generate_program_workouts,
        )
        .function(
            "save_program",
            "Save a fully generated program (preview_id from generate_program_workouts) to the user's \
             library, and optionally schedule its sessions from a start date.",
            program::save::save_program,
        )
}

amakaflow_tool_sdk::export_plugin!(plugin);

#[cfg(test)]
mod tests;
