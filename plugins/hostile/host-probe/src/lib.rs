//! Test plugin (not hostile): one function per host capability, so the runtime tests can check
//! state, rate limits, flags, the workout index, logging and stderr end to end.

use std::time::Duration;

use amakaflow_tool_sdk::prelude::*;

/// A state key, with a value and lifetime for `state_put`.
#[derive(Deserialize, JsonSchema)]
struct StateArgs {
    key: String,
    value: Option<String>,
    ttl_seconds: Option<u64>,
}

fn state_put(_ctx: &Context, args: StateArgs) -> Result<Value, ToolError> {
    let ttl = Duration::from_secs(args.ttl_seconds.unwrap_or(60));
    state::put(&args.key, args.value.as_deref().unwrap_or(""), ttl)?;
    Ok(json!({"stored": args.key}))
}

fn state_get(_ctx: &Context, args: StateArgs) -> Result<Value, ToolError> {
    Ok(json!({"value": state::get(&args.key)}))
}

fn state_take(_ctx: &Context, args: StateArgs) -> Result<Value, ToolError> {
    Ok(json!({"value": state::take(&args.key)}))
}

/// A rate-limit bucket and its hourly limit.
#[derive(Deserialize, JsonSchema)]
struct RateArgs {
    bucket: String,
    limit: u32,
}

fn rate_limit(_ctx: &Context, args: RateArgs) -> Result<Value, ToolError> {
    let decision = rate_limit::check_hour(&args.bucket, args.limit)?;
    Ok(json!({"count": decision.count, "limit": decision.limit}))
}

/// A feature flag key.
#[derive(Deserialize, JsonSchema)]
struct FlagArgs {
    key: String,
}

fn flag(_ctx: &Context, args: FlagArgs) -> Result<Value, ToolError> {
    Ok(json!({"value": flags::get(&args.key), "garmin": flags::list_contains(&args.key, "garmin_sync")}))
}

/// The size of the query embedding to search with.
#[derive(Deserialize, JsonSchema)]
struct SearchArgs {
    dimension: usize,
}

fn search(_ctx: &Context, args: SearchArgs) -> Result<Value, ToolError> {
    let matches = index::search(&vec![0.1; args.dimension], 5, 0.5)?;
    let found: Vec<Value> = matches.iter().map(|m| json!({"id": m.workout_id, "similarity": m.similarity})).collect();
    Ok(json!({"matches": found, "indexed": index::count()}))
}

/// How much to log and to write to stderr.
#[derive(Deserialize, JsonSchema)]
struct ChatterArgs {
    log_lines: u32,
    stderr_kib: u32,
}

fn chatter(_ctx: &Context, args: ChatterArgs) -> Result<Value, ToolError> {
    for i in 0..args.log_lines {
        log::info(&format!("line {i}"));
    }
    let kib = "e".repeat(1023);
    for _ in 0..args.stderr_kib {
        eprintln!("{kib}");
    }
    Ok(json!({"done": true}))
}

fn plugin() -> Plugin {
    Plugin::new()
        .function("probe_state_put", "Stores a value.", state_put)
        .function("probe_state_get", "Reads a value.", state_get)
        .function("probe_state_take", "Reads and deletes a value.", state_take)
        .function("probe_rate_limit", "Counts a call against an hourly limit.", rate_limit)
        .function("probe_flag", "Reads a feature flag.", flag)
        .function("probe_search", "Searches the workout index.", search)
        .function("probe_chatter", "Logs and writes to stderr.", chatter)
}

amakaflow_tool_sdk::export_plugin!(plugin);
