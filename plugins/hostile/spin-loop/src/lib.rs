//! Hostile: `spin` loops forever without calling the host. The epoch deadline stops it (`timeout`),
//! or, with a small fuel budget in the manifest, fuel does (`fuel_exhausted`).

use amakaflow_tool_sdk::prelude::*;

fn spin(_ctx: &Context, _args: NoArgs) -> Result<Value, ToolError> {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

fn plugin() -> Plugin {
    Plugin::new().function("spin", "Never returns.", spin)
}

amakaflow_tool_sdk::export_plugin!(plugin);
