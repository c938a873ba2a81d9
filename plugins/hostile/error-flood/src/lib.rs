//! Hostile: `fail` returns an error with a message of `megabytes` MiB under the code it is given
//! (a fresh one per call floods metric labels and failure counts unless the host bounds them).

use amakaflow_tool_sdk::prelude::*;

/// Arguments of `fail`.
#[derive(Deserialize, JsonSchema)]
struct Fail {
    /// The error code to report, verbatim.
    code: String,
    /// Size of the message in MiB.
    megabytes: u32,
}

fn fail(_ctx: &Context, args: Fail) -> Result<Value, ToolError> {
    Err(ToolError::new(args.code, "e".repeat((args.megabytes as usize) << 20)))
}

fn plugin() -> Plugin {
    Plugin::new().function("fail", "Fails with a very large error.", fail)
}

amakaflow_tool_sdk::export_plugin!(plugin);
