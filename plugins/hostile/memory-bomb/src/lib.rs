//! Hostile: `allocate` grows its memory by 1 MiB at a time, touching every page, until the host's
//! memory limit stops it (`memory_exceeded`).

use amakaflow_tool_sdk::prelude::*;

fn allocate(_ctx: &Context, _args: NoArgs) -> Result<Value, ToolError> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        blocks.push(std::hint::black_box(vec![0xA5; 1 << 20]));
        std::hint::black_box(&blocks);
    }
}

fn plugin() -> Plugin {
    Plugin::new().function("allocate", "Allocates without end.", allocate)
}

amakaflow_tool_sdk::export_plugin!(plugin);
