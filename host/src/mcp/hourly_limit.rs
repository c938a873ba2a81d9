//! The hourly limit of MCP tool calls per user (`MCP_TOOL_CALLS_PER_HOUR`), counted with the same
//! atomic check-and-count as the plugins' function limits (`function_rate_limits`), so concurrent
//! calls on any number of instances never exceed it.

use chrono::Utc;
use rmcp::model::ErrorData;
use store::Store;
use tools::ToolError;

/// The counter's name in `function_rate_limits` (no plugin function has a colon in its name).
const COUNTER: &str = "mcp:tools/call";

/// Counts one call of `user_id`: `Ok(None)` when it may run, `Ok(Some(error))` (what the client
/// sees, as a tool error) when the hour's calls are used up. `limit` 0 means no limit.
pub async fn reserve(store: &Store, user_id: &str, limit: u32) -> Result<Option<ToolError>, ErrorData> {
    if limit == 0 {
        return Ok(None);
    }
    let decision = store.hit_function_limit(user_id, COUNTER, limit.into(), Utc::now()).await.map_err(|err| {
        tracing::error!(error = %err, "counting an MCP tool call failed");
        ErrorData::internal_error("The call could not be counted. Please try again.", None)
    })?;
    if decision.allowed {
        return Ok(None);
    }
    let minutes = (decision.retry_after_seconds + 59) / 60;
    Ok(Some(ToolError::new(
        "rate_limit_exceeded",
        format!("You have used your {limit} tool calls of this hour. Try again in {minutes} minute(s)."),
    )))
}
