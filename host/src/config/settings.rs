//! The typed settings, one section per concern (server, database, auth, Claude, OpenAI, downstream
//! services, plugins, quotas, telemetry), so each part of the service receives only the section it
//! needs. What fills them, and with which defaults, is in `mod.rs` and `catalogue.rs`; every
//! credential is a [`Secret`], so deriving `Debug` here never prints one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::secret::Secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Test,
    Staging,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Test => "test",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }

    pub fn is_production(self) -> bool {
        self == Environment::Production
    }

    /// A developer's machine or a test run (development conveniences apply), as opposed to a
    /// deployment (staging, production).
    pub fn is_local(self) -> bool {
        matches!(self, Environment::Development | Environment::Test)
    }
}

/// Where the database lives. `DATABASE_URL` unset means a SQLite file under `data/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseConfig {
    pub url: String,
    /// Apply migrations at start-up. Off (`RUN_MIGRATIONS=false`) for a shared database whose schema
    /// is managed elsewhere.
    pub run_migrations: bool,
    pub max_connections: u32,
    /// How often expired plugin state and past rate-limit windows are deleted
    /// (`STORAGE_PURGE_INTERVAL_SECONDS`; zero: never).
    pub purge_interval: Duration,
}

/// How users and services authenticate.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// Clerk frontend API host (`clerk.example.com`) or, for local stand-ins, a full `http://` origin.
    pub clerk_domain: Option<String>,
    /// Expected `iss` of Clerk tokens; defaults to `https://$CLERK_DOMAIN`.
    pub clerk_issuer: Option<String>,
    /// Secret of the HS256 mobile pairing tokens.
    pub jwt_secret: Secret,
    /// The `X-API-Key` values, each with the user it authenticates as.
    pub api_keys: Vec<ApiKey>,
    /// Shared secret of the `X-Test-Auth` bypass; ignored in production.
    pub test_auth_secret: Option<Secret>,
    /// `X-Internal-Key` for the service-to-service routes (`/internal/*`) only.
    pub internal_api_key: Option<Secret>,
    /// `X-Admin-Key` (or a bearer token) for the operators' routes (`/admin/*`).
    pub admin_api_key: Option<Secret>,
    /// The bearer token of `GET /metrics`; unset in development and test means the route is open.
    pub metrics_token: Option<Secret>,
    /// Least time between two JWKS fetches triggered by unknown key ids.
    pub jwks_min_refresh: Duration,
}

/// One entry of `API_KEYS`.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub key: Secret,
    /// The user the key authenticates as (`"admin"` for a key listed without `:user`).
    pub user_id: String,
}

/// The Anthropic connection, optionally through Helicone.
#[derive(Clone, Debug)]
pub struct AnthropicConfig {
    pub api_key: Option<Secret>,
    /// `https://api.anthropic.com` unless a stand-in or Helicone is used.
    pub base_url: String,
    pub model: String,
    pub max_tokens: u32,
    pub helicone_enabled: bool,
    pub helicone_api_key: Option<Secret>,
    pub helicone_base_url: String,
    /// Estimated tokens of earlier conversation sent with each call (newest turns first).
    pub history_token_budget: usize,
    /// Retries of a request that failed before its first byte (429, 5xx, 529, connection errors).
    pub max_retries: u32,
    /// The first backoff between retries (doubled each time, with jitter).
    pub retry_base: Duration,
    /// The longest silence tolerated on a stream before it counts as failed.
    pub stall_timeout: Duration,
}

/// OpenAI, used for embeddings.
#[derive(Clone, Debug)]
pub struct OpenAiConfig {
    pub api_key: Option<Secret>,
    pub base_url: String,
    pub embedding_model: String,
    pub embedding_batch_size: usize,
}

/// The downstream services the tool plugins call (their manifests interpolate these).
#[derive(Clone, Debug)]
pub struct DownstreamConfig {
    pub mapper_api_url: String,
    pub calendar_api_url: String,
    pub workout_ingestor_api_url: String,
    pub strava_sync_api_url: String,
    pub garmin_sync_api_url: String,
}

/// Where plugins come from and how long a call may take by default.
#[derive(Clone, Debug)]
pub struct PluginsConfig {
    pub dir: PathBuf,
    /// Compiled-artifact cache; defaults to `<PLUGINS_DIR>/.cache`.
    pub cache_dir: PathBuf,
    pub function_timeout: Duration,
    /// Watch `dir` and reload changed plugins.
    pub watch: bool,
    /// Per-request HTTP timeout of the plugins' downstream calls (manifests: `${setting:TOOL_HTTP_TIMEOUT_SECONDS}`).
    pub http_timeout: Duration,
    /// Strava/Garmin syncs per user and hour (the `sync` manifest: `${setting:SYNC_RATE_LIMIT_PER_HOUR}`).
    pub sync_limit_per_hour: u32,
    /// How often to check the database for plugins uploaded or rolled back through another
    /// instance (`PLUGINS_SYNC_SECONDS`, fractional; zero disables the check).
    pub database_poll_interval: Duration,
    /// Live state keys one plugin may keep per user (`PLUGIN_STATE_MAX_KEYS`).
    pub state_max_keys: u64,
    /// Bytes of state keys and values one plugin may keep per user (`PLUGIN_STATE_MAX_BYTES`).
    pub state_max_bytes: u64,
    /// What manifests may be granted (`PLUGIN_POLICY_FILE`, or derived from the configured services).
    pub policy: tools::PluginPolicy,
    /// The longest compiling one plugin version may take (`PLUGIN_COMPILE_TIMEOUT_SECONDS`); past
    /// it the load is abandoned and the version rejected.
    pub compile_timeout: Duration,
    /// `PLUGIN_SECRETS_KEY` (checked to be 32 bytes of base64): the key the plugins' secrets are
    /// encrypted under in the database. None: plugin settings and secrets are off.
    pub secrets_key: Option<Secret>,
    /// Which plugin versions load (`PLUGIN_SIGNATURES`) and the keys trusted (`PLUGIN_TRUSTED_KEYS`).
    pub signatures: tools::SignatureSettings,
    /// The minisign secret key `chat-api plugins sign` uses unless given `--key`.
    pub signing_key_file: Option<PathBuf>,
    /// The linear memory all running tool calls may hold at once (`PLUGIN_MEMORY_BUDGET_BYTES`;
    /// unset: half of the machine's or the cgroup's memory, whichever is smaller).
    pub memory_budget_bytes: u64,
    /// How long a call waits for room in the memory budget before it is answered `busy`
    /// (`PLUGIN_MEMORY_WAIT_MS`).
    pub memory_wait: Duration,
    /// The most outgoing requests in flight a manifest may allow one call
    /// (`PLUGIN_MAX_REQUESTS_IN_FLIGHT`).
    pub max_requests_in_flight: u32,
}

/// Limits on the HTTP and SSE side.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub sse_warn_connections: usize,
    pub sse_critical_connections: usize,
    /// How long running streams may continue after SIGTERM before they are ended.
    pub shutdown_grace: Duration,
    /// The longest a client may take to send a request's headers, counted from the first byte of
    /// the request (for a new connection: from its opening).
    pub header_timeout: Duration,
    /// A connection with no request in flight that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections at most; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// How long a client may leave the service's output unread (its connection accepts no bytes,
    /// or its stream's buffer stays full) before it is dropped, as if it had disconnected.
    pub slow_client_timeout: Duration,
    /// Chat turns one user may have running at once; one more is answered with an `error` event.
    pub concurrent_turns_per_user: usize,
}

/// The MCP server at `/mcp`.
#[derive(Clone, Copy, Debug)]
pub struct McpConfig {
    /// Tool calls one user may make through `/mcp` per clock hour (`MCP_TOOL_CALLS_PER_HOUR`; 0: no limit).
    pub calls_per_hour: u32,
    /// How often a running call reports progress to a client that sent a progress token.
    pub progress_interval: Duration,
}

/// Monthly message limits per tier.
#[derive(Clone, Copy, Debug)]
pub struct QuotaConfig {
    pub free: u32,
    pub paid: u32,
}

/// Error tracking, metrics and logs.
#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// Validated at start-up: a DSN Sentry's client would silently ignore is an error instead. A
    /// secret because it carries the project's key.
    pub sentry_dsn: Option<Secret>,
    /// `RENDER_GIT_COMMIT`: Sentry's release.
    pub release: Option<String>,
    /// The share of requests traced as Sentry transactions (`SENTRY_TRACES_SAMPLE_RATE`).
    pub traces_sample_rate: f32,
    /// `METRICS_ENABLED=false` installs no recorder and serves no `/metrics` (the overhead benchmark's
    /// baseline).
    pub metrics_enabled: bool,
    pub json_logs: bool,
    /// OpenTelemetry export (`OTEL_*`); `None` when `OTEL_EXPORTER_OTLP_ENDPOINT` is unset.
    pub otel: Option<OtelConfig>,
}

/// Where and which traces go (`OTEL_EXPORTER_OTLP_ENDPOINT` and the standard `OTEL_*` variables).
#[derive(Clone, Debug)]
pub struct OtelConfig {
    /// The collector's base URL; spans are posted to `<endpoint>/v1/traces`.
    pub endpoint: String,
    /// `OTEL_EXPORTER_OTLP_HEADERS`, parsed: a secret (collector credentials).
    pub headers: Vec<(String, Secret)>,
    pub service_name: String,
    pub sampler: OtelSampler,
}

/// `OTEL_TRACES_SAMPLER` with its `OTEL_TRACES_SAMPLER_ARG`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OtelSampler {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
    /// The parent's decision when there is a parent (a client's `traceparent`), else the inner one.
    ParentBased(OtelRootSampler),
}

/// The root decision of a parent-based sampler.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OtelRootSampler {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
}

/// How the service's own HTTPS clients reach upstreams (capacity: HTTP/2 to Anthropic).
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    /// `EXTRA_CA_CERTS_FILE`: PEM root certificates trusted besides the built-in (Mozilla) roots,
    /// for a private proxy or the TLS stand-ins. Read and checked when the clients are built.
    pub extra_ca_certs_file: Option<PathBuf>,
    /// `ANTHROPIC_STREAMS_PER_CONNECTION`: Claude streams multiplexed on one HTTP/2 connection
    /// before another connection is opened (100 is the least RFC 9113 asks servers to allow).
    pub anthropic_streams_per_connection: usize,
}

/// Turns that survive (#12): the shared state of running turns (`host/src/live`).
#[derive(Clone, Debug)]
pub struct TurnsConfig {
    /// Redis (Render's Key Value): event logs, stops, leases and the per-user cap shared by every
    /// instance; unset: all of it in this process (a single instance).
    pub redis_url: Option<super::Secret>,
    /// The start of every key this service writes in Redis (several services may share one).
    pub redis_key_prefix: String,
    /// How long a turn's events stay resumable after its last event.
    pub event_retention: Duration,
    /// How long a running turn's lease lasts without renewal (renewed every third of it): a dead
    /// instance's turns are closed by another within it.
    pub lease: Duration,
}
