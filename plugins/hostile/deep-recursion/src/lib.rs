//! Hostile: `recurse` calls itself without end, each frame holding a little stack, until the
//! sandbox's stack runs out: a trap the host reports as `plugin_trap`, unharmed.

use amakaflow_tool_sdk::prelude::*;

/// Never returns in practice: `limit` is `u64::MAX`, hidden from the optimiser.
#[inline(never)]
fn descend(depth: u64, limit: u64) -> u64 {
    if depth >= limit {
        return depth;
    }
    let frame = std::hint::black_box([depth as u8; 64]);
    // Not a tail call: the frame is used after the recursive call returns.
    descend(depth + 1, limit).wrapping_add(u64::from(frame[(depth % 64) as usize]))
}

fn recurse(_ctx: &Context, _args: NoArgs) -> Result<Value, ToolError> {
    let depth = descend(0, std::hint::black_box(u64::MAX));
    Ok(json!({"depth": depth}))
}

fn plugin() -> Plugin {
    Plugin::new().function("recurse", "Recurses without end.", recurse)
}

amakaflow_tool_sdk::export_plugin!(plugin);
