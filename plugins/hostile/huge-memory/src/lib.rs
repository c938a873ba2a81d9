//! Hostile: an ordinary function in a component linked with a 1 GiB initial memory (see build.rs).
//! Every call would need 1 GiB up front; the host refuses the plugin at load instead.

use amakaflow_tool_sdk::prelude::*;

fn noop(_ctx: &Context, _args: NoArgs) -> Result<Value, ToolError> {
    Ok(json!({"ran": true}))
}

fn plugin() -> Plugin {
    Plugin::new().function("noop", "Does nothing, with 1 GiB of memory.", noop)
}

amakaflow_tool_sdk::export_plugin!(plugin);
