//! Hostile: `flood` returns `megabytes` MiB of text, more than the host hands to the model
//! (`result_too_large`).

use amakaflow_tool_sdk::prelude::*;

/// Arguments of `flood`.
#[derive(Deserialize, JsonSchema)]
struct Flood {
    /// Size of the result in MiB.
    megabytes: u32,
}

fn flood(_ctx: &Context, args: Flood) -> Result<String, ToolError> {
    Ok("x".repeat(args.megabytes as usize * 1024 * 1024))
}

fn plugin() -> Plugin {
    Plugin::new().function("flood", "Returns a very large result.", flood)
}

amakaflow_tool_sdk::export_plugin!(plugin);
