//! The tool host as an MCP server: every plugin tool, offered to any Model Context Protocol client
//! (Claude Desktop and Code, IDEs, other agents) at `/mcp` over the Streamable HTTP transport of the
//! official Rust SDK (`rmcp`), with the chat's users, limits, metrics and hot reload.
//!
//! The SDK speaks every revision from 2025-06-18 to 2026-07-28: the newest is stateless (each
//! request carries its own protocol version and capabilities, so any instance answers it); the
//! older ones open an `Mcp-Session-Id` session with `initialize`, kept in this instance's memory.
//! A session or a stateless request gets its own [`ToolHost`]; the HTTP layer (`api::mcp`) has
//! already authenticated the caller and put the [`AuthUser`](crate::auth::AuthUser) on the request.
//!
//! By concern: [`server`] is the protocol handler (what the server offers, who is calling);
//! [`listing`] turns the registry's functions into MCP tools, page by page; [`calling`] runs one
//! `tools/call` through the same runtime as the chat (hourly limit, progress, cancellation) and
//! turns its outcome into an MCP result; [`list_changed`] tells open sessions and subscriptions when
//! the tool set changed.

mod calling;
mod hourly_limit;
mod list_changed;
mod listing;
mod server;

use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use store::Store;
use tools::Registry;

pub use server::ToolHost;

/// What every MCP session runs with.
pub struct McpDeps {
    pub tools: Arc<Registry>,
    pub store: Store,
    /// Tool calls one user may make through `/mcp` per clock hour (`MCP_TOOL_CALLS_PER_HOUR`; 0: no limit).
    pub calls_per_hour: u32,
    /// How often a running call reports progress to a client that sent a progress token.
    pub progress_interval: Duration,
}

/// The `/mcp` service: sessions for the revisions that have them, stateless requests for the
/// newest; `Origin` checked against `allowed_origins` (a request without one, from a non-browser
/// client, passes); bodies larger than `max_body_bytes` refused with 413 before they are parsed.
pub fn service(
    deps: Arc<McpDeps>,
    allowed_origins: &[String],
    max_body_bytes: usize,
) -> StreamableHttpService<ToolHost, LocalSessionManager> {
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_origins(allowed_origins.iter().cloned())
        .enforce_origin_validation()
        // Clients are authenticated by bearer credentials, never cookies: a rebound DNS name gains
        // nothing, and the public host name is the load balancer's to know.
        .disable_allowed_hosts();
    config.max_request_body_bytes = max_body_bytes;
    StreamableHttpService::new(
        move || Ok(ToolHost::new(deps.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}
