//! Training programs in three confirmed steps, each preview kept in host state for 15 minutes
//! (scoped by the host to this plugin and the calling user): `generate_program` stores an outline,
//! `generate_program_workouts` turns it into a full program under a new preview id, `save_program`
//! consumes that and saves each session to the library (and optionally the calendar).

pub mod dates;
pub mod outline;
pub mod save;
pub mod sessions;

use std::time::Duration;

use amakaflow_tool_sdk::compat::uuid4;
use amakaflow_tool_sdk::prelude::*;

/// How long a preview waits for the user's confirmation.
pub const PREVIEW_TTL: Duration = Duration::from_secs(15 * 60);

/// A preview's state key.
fn key(preview_id: &str) -> String {
    format!("program:{preview_id}")
}

/// Stores a preview of `kind` (`program_outline`, `program_full`) under a new id; returns the id.
fn store(kind: &str, program: &Value, parameters: &Value) -> Result<String, ToolError> {
    let preview_id = uuid4()?;
    state::put_json(
        &key(&preview_id),
        &json!({"type": kind, "program": program, "parameters": parameters}),
        PREVIEW_TTL,
    )?;
    Ok(preview_id)
}

/// The preview `preview_id` if it is of `kind`, read (`consume = false`) or taken.
fn load(preview_id: &str, kind: &str, consume: bool) -> Option<Value> {
    let key = key(preview_id);
    let preview: Option<Value> = if consume { state::take_json(&key) } else { state::get_json(&key) };
    preview.filter(|p| p.get("type").and_then(Value::as_str) == Some(kind))
}
