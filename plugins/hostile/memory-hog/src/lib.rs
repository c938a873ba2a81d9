//! Hostile: `hold` fills 120 MiB of its 128 MiB memory limit (every page touched), then holds it
//! while it waits on an HTTP request to the configured server, and returns. Many parallel calls
//! would take the host past the machine's memory without a budget across calls.

use amakaflow_tool_sdk::prelude::*;

const HELD_BYTES: usize = 120 << 20;

fn hold(_ctx: &Context, _args: NoArgs) -> Result<Value, ToolError> {
    // Not zeroes: fresh wasm pages are zero already, so only a non-zero fill touches them.
    let held = std::hint::black_box(vec![0xA5u8; HELD_BYTES]);
    let response = http::get(config::required("url")?).send()?;
    let checksum: u64 = held.iter().step_by(4096).map(|b| u64::from(*b)).sum();
    Ok(json!({"status": response.status, "held_bytes": held.len(), "checksum": checksum}))
}

fn plugin() -> Plugin {
    Plugin::new().function("hold", "Holds 120 MiB while waiting on a server.", hold)
}

amakaflow_tool_sdk::export_plugin!(plugin);
