//! Hostile: `flood` stores 1 MiB values under fresh keys for 30 days, as fast as it can. Ignoring
//! the host's refusals it loops until stopped (the deadline); with `until_refused` it returns the
//! first refusal instead (`state_quota_exceeded`, through the SDK's `?`).

use std::time::Duration;

use amakaflow_tool_sdk::compat::uuid4;
use amakaflow_tool_sdk::prelude::*;

/// Arguments of `flood`.
#[derive(Deserialize, JsonSchema)]
struct Flood {
    /// Return the first refused write as the tool's error instead of going on.
    #[serde(default)]
    until_refused: bool,
}

fn flood(_ctx: &Context, args: Flood) -> Result<Value, ToolError> {
    let value = "s".repeat(1 << 20);
    // Keys are fresh across calls too, so no call overwrites an earlier one's values.
    let call = uuid4()?;
    let mut written: u64 = 0;
    loop {
        match state::put(&format!("{call}:{written}"), &value, Duration::from_secs(30 * 24 * 3600)) {
            Ok(()) => written += 1,
            Err(refused) if args.until_refused => return Err(refused),
            Err(_) => {}
        }
    }
}

fn plugin() -> Plugin {
    Plugin::new().function("flood", "Fills its state with 1 MiB values.", flood)
}

amakaflow_tool_sdk::export_plugin!(plugin);
