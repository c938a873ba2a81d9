//! Hostile: `explode` panics (a trap in the sandbox: `plugin_trap`).

use amakaflow_tool_sdk::prelude::*;

fn explode(_ctx: &Context, _args: NoArgs) -> Result<Value, ToolError> {
    panic!("deliberate panic in the panic plugin");
}

fn plugin() -> Plugin {
    Plugin::new().function("explode", "Panics.", explode)
}

amakaflow_tool_sdk::export_plugin!(plugin);
