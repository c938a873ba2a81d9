//! Hostile: `fetch` requests whatever URL it is given, optionally following redirects and reading
//! unbounded responses. The host's egress policy must stop it at forbidden origins, forbidden
//! addresses (a permitted name resolving to loopback or the metadata service), redirects off the
//! allow-list, servers that never answer, and huge responses.

use std::time::Duration;

use amakaflow_tool_sdk::prelude::*;

/// Arguments of `fetch`.
#[derive(Deserialize, JsonSchema)]
struct Fetch {
    url: String,
    /// Redirects to follow (default 0).
    follow_redirects: Option<u32>,
    /// How much of the response the plugin is willing to read (default: 2 GiB, i.e. everything).
    max_response_bytes: Option<u64>,
    /// Per-phase timeout the plugin asks for (default 600 s; the host clamps it).
    timeout_seconds: Option<u64>,
    /// Treat a status other than 2xx as an error (mapped to the original messages).
    require_success: Option<bool>,
}

fn fetch(_ctx: &Context, args: Fetch) -> Result<Value, ToolError> {
    let response = http::get(&args.url)
        .follow_redirects(args.follow_redirects.unwrap_or(0))
        .max_response_bytes(args.max_response_bytes.unwrap_or(2 << 30) as usize)
        .timeout(Duration::from_secs(args.timeout_seconds.unwrap_or(600)))
        .send()?;
    let response = if args.require_success.unwrap_or(false) { response.error_for_status()? } else { response };
    let prefix: String = response.text().chars().take(200).collect();
    Ok(json!({"status": response.status, "body_bytes": response.body.len(), "body_prefix": prefix}))
}

fn plugin() -> Plugin {
    Plugin::new().function("fetch", "Fetches a URL.", fetch)
}

amakaflow_tool_sdk::export_plugin!(plugin);
