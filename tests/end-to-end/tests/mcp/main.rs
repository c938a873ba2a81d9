//! The tool host as an MCP server (`/mcp`), driven by clients this project did not write: the
//! official Python SDK (`mcp` on PyPI, at the newest revision 2026-07-28 and at 2025-11-25 through
//! the `initialize` handshake) and the MCP Inspector's CLI, against the real service with the 27
//! real plugins and the downstream stand-ins. Raw HTTP covers what no well-behaved client sends:
//! missing or bad credentials, another user's session, hostile JSON-RPC.
//!
//! The clients are installed by `make mcp-clients` under `MCP_CLIENTS_DIR` (default
//! `~/.cache/amakaflow-chat`); a missing client fails the suite with the command that installs it.

mod auth;
mod clients;
mod hostile;
mod inspector;
mod live;
mod raw;
mod tools;

use std::time::Duration;

use end_to_end::plugins::PluginsDir;
use end_to_end::server::TestServer;
use end_to_end::tool_world::PLUGINS;
use serde_json::{Value, json};
use stand_ins::clerk::{ClerkStandIn, mint_mobile};
use stand_ins::downstream::{Downstream, Service};
use stand_ins::openai::OpenAiStandIn;
use store::testing::TestDatabase;

/// The admin key of the suite's servers (uploads through the admin API).
pub const ADMIN_KEY: &str = "admin-key-of-the-mcp-suite-0123456789";
/// The two users of the suite.
pub const ALICE: &str = "user_mcp_alice";
pub const BOB: &str = "user_mcp_bob";
/// The revisions the Python client speaks to the service: the stateless newest and, through the
/// `initialize` handshake, 2025-11-25.
pub const MODES: [&str; 2] = ["2026-07-28", "legacy"];

/// The service with the 27 tools, the stand-ins of their services and a stand-in Clerk.
pub struct McpWorld {
    pub server: TestServer,
    pub mapper: Downstream,
    pub calendar: Downstream,
    pub garmin: Downstream,
    pub clerk: ClerkStandIn,
    _others: (Downstream, Downstream, OpenAiStandIn),
    _plugins: PluginsDir,
}

impl McpWorld {
    pub async fn start() -> McpWorld {
        McpWorld::start_with(&[]).await
    }

    /// With `overrides` of the service's variables (for example a lower hourly limit).
    pub async fn start_with(overrides: &[(&str, &str)]) -> McpWorld {
        let (mapper, calendar, ingestor, strava, garmin) = (
            Downstream::start(Service::Mapper).await,
            Downstream::start(Service::Calendar).await,
            Downstream::start(Service::Ingestor).await,
            Downstream::start(Service::Strava).await,
            Downstream::start(Service::Garmin).await,
        );
        let openai = OpenAiStandIn::start().await;
        let clerk = ClerkStandIn::start().await;
        let plugins = PluginsDir::new();
        for plugin in PLUGINS {
            plugins.add(plugin);
        }
        let urls = [&mapper, &calendar, &ingestor, &strava, &garmin].map(|d| d.url());
        let (openai_url, openai_key, clerk_domain) = (openai.url(), openai.api_key(), clerk.domain());
        let plugins_dir = plugins.path().to_string_lossy().into_owned();
        let cache = std::env::temp_dir().join("amakaflow-mcp-suite-cache").to_string_lossy().into_owned();
        let mut vars = vec![
            ("MAPPER_API_URL", urls[0].as_str()),
            ("CALENDAR_API_URL", urls[1].as_str()),
            ("WORKOUT_INGESTOR_API_URL", urls[2].as_str()),
            ("STRAVA_SYNC_API_URL", urls[3].as_str()),
            ("GARMIN_SYNC_API_URL", urls[4].as_str()),
            ("OPENAI_BASE_URL", openai_url.as_str()),
            ("OPENAI_API_KEY", openai_key.as_str()),
            ("CLERK_DOMAIN", clerk_domain.as_str()),
            ("ADMIN_API_KEY", ADMIN_KEY),
            ("PLUGINS_DIR", plugins_dir.as_str()),
            ("PLUGIN_CACHE_DIR", cache.as_str()),
            ("ALLOWED_ORIGINS", "https://app.amakaflow.test"),
        ];
        vars.extend_from_slice(overrides);
        let db = TestDatabase::sqlite().await.expect("a test database");
        let server = TestServer::start(&vars, db).await.expect("the service starts");
        McpWorld { server, mapper, calendar, garmin, clerk, _others: (ingestor, strava, openai), _plugins: plugins }
    }

    /// `http://127.0.0.1:<port>/mcp`.
    pub fn mcp_url(&self) -> String {
        self.server.url("/mcp")
    }

    /// The `Authorization` header of `user`: a mobile pairing token (the service's development
    /// `JWT_SECRET`), which the tools forward to the services as the chat does.
    pub fn bearer(&self, user: &str) -> String {
        format!("Bearer {}", mint_mobile(host::config::DEFAULT_JWT_SECRET, user, json!({})))
    }
}

/// The tool calls and errors a client reads, shortened for assertions.
pub fn structured(result: &Value) -> &Value {
    &result["structured"]
}

/// Long enough for any client on a loaded machine; only a failing test waits this long.
pub const PATIENCE: Duration = Duration::from_secs(60);
