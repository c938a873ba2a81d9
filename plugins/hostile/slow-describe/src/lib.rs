//! Hostile: building the plugin's function list never finishes, so `describe` never returns (and
//! neither would a call). Its load is rejected at describe's deadline.

use amakaflow_tool_sdk::prelude::*;

fn never(_ctx: &Context, _args: NoArgs) -> Result<Value, ToolError> {
    Ok(Value::Null)
}

fn plugin() -> Plugin {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
        if std::hint::black_box(counter) == 0 {
            return Plugin::new().function("never", "Never offered.", never);
        }
    }
}

amakaflow_tool_sdk::export_plugin!(plugin);
