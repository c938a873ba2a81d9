//! Every setting of the service, read from the environment once at start-up into one typed struct.
//!
//! Parsing collects every problem before failing, so an operator sees all bad variables in one
//! error. `ENVIRONMENT=production` additionally requires the production variables and refuses
//! secrets that are known development defaults. Development needs no variables at all.
//!
//! The parts: `settings` (the typed sections), `catalogue` (every variable with its kind and
//! default), `reading` (the reader and the parsers of formatted values), `plugin_policy` (the
//! operator's policy over plugin manifests), `production` (what a deployment must get right) and `secret` (the type every credential is held in). This file puts
//! them together: which variable fills which field.

mod catalogue;
mod llm_routing;
mod plugin_policy;
mod production;
mod reading;
mod secret;
mod settings;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use catalogue::{
    DEFAULT_ADMIN_API_KEY, DEFAULT_INTERNAL_API_KEY, DEFAULT_JWT_SECRET, DEFAULT_PLUGIN_SECRETS_KEY, ENV_VARS, EnvKind,
    EnvVar, WhenUnset, default_value,
};
pub use llm_routing::{Fallback, LlmRoutingConfig};
pub use production::PRODUCTION_REQUIRED;
pub use reading::{parse_api_keys, parse_origins};
pub use secret::Secret;
pub use settings::{
    AnthropicConfig, ApiKey, AuthConfig, DatabaseConfig, DownstreamConfig, Environment, McpConfig, OpenAiConfig,
    PluginsConfig, QuotaConfig, ServerConfig, TelemetryConfig, TurnsConfig, UpstreamConfig,
};

// OpenTelemetry export (#15).
use reading::{Lowest, Reader};
pub use settings::{OtelConfig, OtelRootSampler, OtelSampler};

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub environment: Environment,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub anthropic: AnthropicConfig,
    pub openai: OpenAiConfig,
    pub downstream: DownstreamConfig,
    pub plugins: PluginsConfig,
    pub quota: QuotaConfig,
    pub telemetry: TelemetryConfig,
    /// The OpenAI fallback, the circuit breaker and the queue of Claude calls.
    pub llm: LlmRoutingConfig,
    pub upstream: UpstreamConfig,
    pub turns: TurnsConfig,
    pub mcp: McpConfig,
}

/// Every problem found in the environment, one line per variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads from any lookup (tests pass a map).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut r = Reader::new(get);
        let environment = r.environment;
        let server = read_server(&mut r);
        let database = read_database(&mut r);
        let auth = read_auth(&mut r);
        let anthropic = read_anthropic(&mut r);
        let openai = read_openai(&mut r);
        let downstream = read_downstream(&mut r);
        let plugins = read_plugins(&mut r, &downstream, &openai);
        let quota = QuotaConfig {
            free: r.parsed("RATE_LIMIT_FREE", "a message count"),
            paid: r.parsed("RATE_LIMIT_PAID", "a message count"),
        };
        let telemetry = read_telemetry(&mut r);
        let llm = llm_routing::read_llm_routing(&mut r);
        let upstream = read_upstream(&mut r);
        let turns = read_turns(&mut r);
        let mcp = McpConfig {
            calls_per_hour: r.parsed("MCP_TOOL_CALLS_PER_HOUR", "a count"),
            progress_interval: r.seconds("MCP_PROGRESS_SECONDS", Lowest::MoreThan(0.0), 3600.0),
        };
        let config = Config {
            environment,
            server,
            database,
            auth,
            anthropic,
            openai,
            downstream,
            plugins,
            quota,
            telemetry,
            llm,
            upstream,
            turns,
            mcp,
        };

        if environment.is_production() {
            let problems = production::check_production(&r, &config);
            r.problems.extend(problems);
        }

        if r.problems.is_empty() { Ok(config) } else { Err(ConfigError { problems: r.problems }) }
    }

    /// Every configured secret value: error reports and logs must never contain one.
    pub fn secret_values(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.named_secrets().into_iter().map(|(_, value)| value.to_string()).collect();
        // Replacing a very short value would mangle unrelated text (and it is no real secret).
        secrets.retain(|s| s.len() >= 6);
        secrets
    }

    /// Every configured secret with the variable it came from (`API_KEYS` once per key, the
    /// database password as `DATABASE_URL`).
    pub(crate) fn named_secrets(&self) -> Vec<(&'static str, &str)> {
        let auth = &self.auth;
        [
            ("ANTHROPIC_API_KEY", self.anthropic.api_key.as_ref()),
            ("HELICONE_API_KEY", self.anthropic.helicone_api_key.as_ref()),
            ("OPENAI_API_KEY", self.openai.api_key.as_ref()),
            ("INTERNAL_API_KEY", auth.internal_api_key.as_ref()),
            ("ADMIN_API_KEY", auth.admin_api_key.as_ref()),
            ("METRICS_TOKEN", auth.metrics_token.as_ref()),
            ("TEST_AUTH_SECRET", auth.test_auth_secret.as_ref()),
            ("JWT_SECRET", Some(&auth.jwt_secret)),
            ("PLUGIN_SECRETS_KEY", self.plugins.secrets_key.as_ref()),
            ("REDIS_URL", self.turns.redis_url.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, secret)| Some((name, secret?.expose())))
        .chain(
            self.telemetry
                .otel
                .iter()
                .flat_map(|otel| &otel.headers)
                .map(|(_, v)| ("OTEL_EXPORTER_OTLP_HEADERS", v.expose())),
        )
        .chain(reading::database_password(&self.database.url).map(|password| ("DATABASE_URL", password)))
        .chain(auth.api_keys.iter().map(|k| ("API_KEYS", k.key.expose())))
        .collect()
    }

    /// What plugin manifests' `${setting:NAME}` and `${secret:NAME}` fall back to when the plugin
    /// has no stored value of that name: the runbook variables the service reads, and the OpenAI
    /// key (only ever added to outgoing headers, never passed into the guest).
    pub fn plugin_value_defaults(&self) -> tools::PluginValues {
        let d = &self.downstream;
        let settings = [
            ("MAPPER_API_URL", d.mapper_api_url.clone()),
            ("CALENDAR_API_URL", d.calendar_api_url.clone()),
            ("WORKOUT_INGESTOR_API_URL", d.workout_ingestor_api_url.clone()),
            ("STRAVA_SYNC_API_URL", d.strava_sync_api_url.clone()),
            ("GARMIN_SYNC_API_URL", d.garmin_sync_api_url.clone()),
            ("OPENAI_BASE_URL", self.openai.base_url.clone()),
            ("EMBEDDING_MODEL", self.openai.embedding_model.clone()),
            ("TOOL_HTTP_TIMEOUT_SECONDS", self.plugins.http_timeout.as_secs_f64().to_string()),
            ("SYNC_RATE_LIMIT_PER_HOUR", self.plugins.sync_limit_per_hour.to_string()),
        ];
        let secrets = self.openai.api_key.as_ref().map(|key| ("OPENAI_API_KEY", key.expose().to_string()));
        tools::PluginValues {
            settings: settings.into_iter().map(|(name, value)| (name.to_string(), value)).collect(),
            secrets: secrets.into_iter().map(|(name, value)| (name.to_string(), value)).collect(),
            // The service's OpenAI key goes to the service's OpenAI origin only.
            secret_origins: [("OPENAI_API_KEY".to_string(), self.openai.base_url.clone())].into(),
        }
    }

    /// The key of the plugins' stored secrets, if configured (its format was checked when read).
    pub fn plugin_secrets_key(&self) -> Option<store::SecretsKey> {
        self.plugins.secrets_key.as_ref().and_then(|key| store::SecretsKey::from_base64(key.expose()).ok())
    }
}

fn read_server(r: &mut Reader<'_>) -> ServerConfig {
    let address: IpAddr = r.parsed("BIND_ADDRESS", "an IP address (127.0.0.1, 0.0.0.0, ::)");
    let port: u16 = r.parsed("PORT", "a port number");
    let allowed_origins = parse_origins(&r.optional("ALLOWED_ORIGINS").unwrap_or_default());
    for origin in &allowed_origins {
        if let Err(why) = reading::check_origin(origin) {
            r.problems.push(format!("ALLOWED_ORIGINS: {origin:?} {why}"));
        }
    }
    ServerConfig {
        listen: SocketAddr::new(address, port),
        allowed_origins,
        max_body_bytes: r.parsed("MAX_BODY_BYTES", "a byte count"),
        sse_warn_connections: r.parsed("SSE_CONNECTIONS_WARN", "a count"),
        sse_critical_connections: r.parsed("SSE_CONNECTIONS_CRITICAL", "a count"),
        shutdown_grace: r.seconds("SHUTDOWN_GRACE_SECONDS", Lowest::AtLeast(0.0), 300.0),
        header_timeout: r.seconds("HTTP_HEADER_TIMEOUT_SECONDS", Lowest::MoreThan(0.0), 300.0),
        idle_timeout: r.seconds("HTTP_IDLE_TIMEOUT_SECONDS", Lowest::MoreThan(0.0), 3600.0),
        max_connections: r.count("HTTP_MAX_CONNECTIONS"),
        slow_client_timeout: r.seconds("SLOW_CLIENT_TIMEOUT_SECONDS", Lowest::MoreThan(0.0), 600.0),
        concurrent_turns_per_user: r.count("CONCURRENT_TURNS_PER_USER"),
    }
}

fn read_database(r: &mut Reader<'_>) -> DatabaseConfig {
    let database = DatabaseConfig {
        url: r.text("DATABASE_URL"),
        run_migrations: r.bool("RUN_MIGRATIONS"),
        max_connections: r.parsed("DATABASE_MAX_CONNECTIONS", "a count"),
        purge_interval: r.seconds("STORAGE_PURGE_INTERVAL_SECONDS", Lowest::AtLeast(0.0), 86_400.0),
    };
    if !(database.url.starts_with("postgres://")
        || database.url.starts_with("postgresql://")
        || database.url.starts_with("sqlite:"))
    {
        r.problems.push("DATABASE_URL: expected postgres://… or sqlite:…".to_string());
    }
    database
}

fn read_auth(r: &mut Reader<'_>) -> AuthConfig {
    AuthConfig {
        clerk_domain: r.optional("CLERK_DOMAIN").map(|d| d.trim_end_matches('/').to_string()),
        clerk_issuer: r.optional("CLERK_ISSUER"),
        jwt_secret: r.secret("JWT_SECRET").unwrap_or_else(|| Secret::from(DEFAULT_JWT_SECRET)),
        api_keys: parse_api_keys(&r.optional("API_KEYS").unwrap_or_default()),
        test_auth_secret: r.secret("TEST_AUTH_SECRET"),
        internal_api_key: r.secret("INTERNAL_API_KEY"),
        admin_api_key: r.secret("ADMIN_API_KEY"),
        metrics_token: r.secret("METRICS_TOKEN"),
        jwks_min_refresh: r.seconds("CLERK_JWKS_MIN_REFRESH_SECONDS", Lowest::AtLeast(0.0), 86_400.0),
    }
}

fn read_anthropic(r: &mut Reader<'_>) -> AnthropicConfig {
    let anthropic = AnthropicConfig {
        helicone_enabled: r.bool("HELICONE_ENABLED"),
        api_key: r.secret("ANTHROPIC_API_KEY"),
        base_url: r.url("ANTHROPIC_BASE_URL"),
        model: r.text("DEFAULT_MODEL"),
        max_tokens: r.parsed("ANTHROPIC_MAX_TOKENS", "a token count"),
        helicone_api_key: r.secret("HELICONE_API_KEY"),
        helicone_base_url: r.url("HELICONE_BASE_URL"),
        history_token_budget: r.parsed("HISTORY_TOKEN_BUDGET", "a token count"),
        max_retries: r.parsed("ANTHROPIC_MAX_RETRIES", "a count"),
        retry_base: r.seconds("ANTHROPIC_RETRY_BASE_SECONDS", Lowest::AtLeast(0.0), 60.0),
        stall_timeout: r.seconds("ANTHROPIC_STALL_TIMEOUT_SECONDS", Lowest::MoreThan(0.0), 600.0),
    };
    if anthropic.helicone_enabled && anthropic.helicone_api_key.is_none() {
        r.problems.push("HELICONE_API_KEY: required when HELICONE_ENABLED=true".to_string());
    }
    anthropic
}

/// Capacity: HTTP/2 lanes to Anthropic and extra TLS roots.
fn read_upstream(r: &mut Reader<'_>) -> UpstreamConfig {
    UpstreamConfig {
        extra_ca_certs_file: r.optional("EXTRA_CA_CERTS_FILE").map(PathBuf::from),
        anthropic_streams_per_connection: r.count("ANTHROPIC_STREAMS_PER_CONNECTION"),
    }
}

fn read_openai(r: &mut Reader<'_>) -> OpenAiConfig {
    OpenAiConfig {
        api_key: r.secret("OPENAI_API_KEY"),
        base_url: r.url("OPENAI_BASE_URL"),
        embedding_model: r.text("EMBEDDING_MODEL"),
        embedding_batch_size: r.parsed("EMBEDDING_BATCH_SIZE", "a count"),
    }
}

fn read_downstream(r: &mut Reader<'_>) -> DownstreamConfig {
    DownstreamConfig {
        mapper_api_url: r.url("MAPPER_API_URL"),
        calendar_api_url: r.url("CALENDAR_API_URL"),
        workout_ingestor_api_url: r.url("WORKOUT_INGESTOR_API_URL"),
        strava_sync_api_url: r.url("STRAVA_SYNC_API_URL"),
        garmin_sync_api_url: r.url("GARMIN_SYNC_API_URL"),
    }
}

fn read_plugins(r: &mut Reader<'_>, downstream: &DownstreamConfig, openai: &OpenAiConfig) -> PluginsConfig {
    let dir = PathBuf::from(r.text("PLUGINS_DIR"));
    PluginsConfig {
        function_timeout: r.seconds("FUNCTION_TIMEOUT_SECONDS", Lowest::MoreThan(0.0), 600.0),
        cache_dir: r.optional("PLUGIN_CACHE_DIR").map(PathBuf::from).unwrap_or_else(|| dir.join(".cache")),
        dir,
        watch: r.bool("PLUGINS_WATCH"),
        http_timeout: r.seconds("TOOL_HTTP_TIMEOUT_SECONDS", Lowest::MoreThan(0.0), 600.0),
        sync_limit_per_hour: r.parsed("SYNC_RATE_LIMIT_PER_HOUR", "a count"),
        database_poll_interval: r.seconds("PLUGINS_SYNC_SECONDS", Lowest::AtLeast(0.0), 3600.0),
        state_max_keys: r.parsed("PLUGIN_STATE_MAX_KEYS", "a count"),
        state_max_bytes: r.parsed("PLUGIN_STATE_MAX_BYTES", "a number of bytes"),
        policy: plugin_policy::read_plugin_policy(r, downstream, openai),
        compile_timeout: r.seconds("PLUGIN_COMPILE_TIMEOUT_SECONDS", Lowest::MoreThan(0.0), 3600.0),
        secrets_key: read_secrets_key(r),
        signatures: tools::SignatureSettings {
            policy: r.parsed("PLUGIN_SIGNATURES", "enforce, warn or off"),
            trusted_keys: read_trusted_keys(r),
        },
        signing_key_file: r.optional("PLUGIN_SIGNING_KEY_FILE").map(PathBuf::from),
        memory_budget_bytes: read_memory_budget(r),
        memory_wait: Duration::from_millis(r.parsed("PLUGIN_MEMORY_WAIT_MS", "a number of milliseconds")),
        max_requests_in_flight: u32::try_from(r.count("PLUGIN_MAX_REQUESTS_IN_FLIGHT")).unwrap_or(u32::MAX),
    }
}

/// `PLUGIN_MEMORY_BUDGET_BYTES`, at least 1 MiB (the smallest memory limit); unset: worked out
/// from the machine by the tool runtime.
fn read_memory_budget(r: &mut Reader<'_>) -> u64 {
    const NAME: &str = "PLUGIN_MEMORY_BUDGET_BYTES";
    match r.set(NAME) {
        None => tools::default_budget_bytes(),
        Some(raw) => raw.parse::<u64>().ok().filter(|bytes| *bytes >= 1 << 20).unwrap_or_else(|| {
            r.problems.push(format!("{NAME}: expected a number of bytes of at least 1048576, got {raw:?}"));
            tools::default_budget_bytes()
        }),
    }
}

/// `PLUGIN_SECRETS_KEY`, which must be 32 bytes of base64 (the error never shows the value).
fn read_secrets_key(r: &mut Reader<'_>) -> Option<Secret> {
    let key = r.secret("PLUGIN_SECRETS_KEY")?;
    if let Err(why) = store::SecretsKey::from_base64(key.expose()) {
        r.problems.push(format!("PLUGIN_SECRETS_KEY: {why}"));
    }
    Some(key)
}

/// `PLUGIN_TRUSTED_KEYS`: minisign public keys, comma separated, or the path of a file of them
/// (a `.pub` file, or one base64 key per line).
fn read_trusted_keys(r: &mut Reader<'_>) -> tools::TrustedKeys {
    let Some(raw) = r.set("PLUGIN_TRUSTED_KEYS") else { return tools::TrustedKeys::default() };
    let path = std::path::Path::new(&raw);
    let text = if path.is_file() {
        match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) => {
                r.problems.push(format!("PLUGIN_TRUSTED_KEYS: cannot read {raw}: {err}"));
                return tools::TrustedKeys::default();
            }
        }
    } else {
        raw
    };
    tools::TrustedKeys::parse(&text).unwrap_or_else(|err| {
        r.problems.push(format!("PLUGIN_TRUSTED_KEYS: {err} (nor a readable file of them)"));
        tools::TrustedKeys::default()
    })
}

/// Turns that survive (#12): `REDIS_URL` (checked for its scheme; the value is never echoed, it may
/// hold a password; only the internal `redis://` form), the key prefix, retention and lease.
fn read_turns(r: &mut Reader<'_>) -> TurnsConfig {
    let redis_url = r.secret("REDIS_URL");
    if let Some(url) = &redis_url
        && !url.expose().starts_with("redis://")
    {
        // TLS is not built in: Render's Key Value is reached on its internal redis:// URL.
        r.problems.push("REDIS_URL: expected redis://… (the Key Value instance's internal URL)".to_string());
    }
    TurnsConfig {
        redis_url,
        redis_key_prefix: r.text("REDIS_KEY_PREFIX"),
        event_retention: r.seconds("TURN_EVENTS_RETENTION_SECONDS", Lowest::MoreThan(0.0), 86_400.0),
        lease: r.seconds("TURN_LEASE_SECONDS", Lowest::MoreThan(0.0), 600.0),
    }
}

fn read_telemetry(r: &mut Reader<'_>) -> TelemetryConfig {
    let sentry_dsn = r.secret("SENTRY_DSN");
    if let Some(dsn) = &sentry_dsn
        && dsn.expose().parse::<sentry::types::Dsn>().is_err()
    {
        // The DSN holds a key: the value is not echoed.
        r.problems.push("SENTRY_DSN: not a valid Sentry DSN (https://<key>@<host>/<project>)".to_string());
    }
    let traces_sample_rate: f32 = r.parsed("SENTRY_TRACES_SAMPLE_RATE", "a rate between 0 and 1");
    if !(0.0..=1.0).contains(&traces_sample_rate) {
        r.problems
            .push(format!("SENTRY_TRACES_SAMPLE_RATE: expected a rate between 0 and 1, got {traces_sample_rate}"));
    }
    TelemetryConfig {
        sentry_dsn,
        release: r.optional("RENDER_GIT_COMMIT"),
        traces_sample_rate,
        metrics_enabled: r.bool("METRICS_ENABLED"),
        json_logs: r.flag("LOG_JSON").unwrap_or(r.environment.is_production()),
        otel: read_otel(r),
    }
}

/// The OpenTelemetry settings; `None` (no export) without `OTEL_EXPORTER_OTLP_ENDPOINT`. The others
/// are read and checked either way, so a mistake shows before export is switched on.
fn read_otel(r: &mut Reader<'_>) -> Option<OtelConfig> {
    let endpoint = r.optional("OTEL_EXPORTER_OTLP_ENDPOINT");
    if let Some(endpoint) = &endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        r.problems.push("OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL".to_string());
    }
    let mut headers = Vec::new();
    for pair in r.optional("OTEL_EXPORTER_OTLP_HEADERS").unwrap_or_default().split(',').filter(|p| !p.trim().is_empty())
    {
        match pair.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                headers.push((name.trim().to_string(), Secret::new(value.trim())));
            }
            // The value may be a credential: only the shape is named. Checked only while exporting
            // (unused otherwise; a deployment may hold a placeholder secret).
            _ if endpoint.is_some() => {
                r.problems.push("OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs separated by commas".to_string())
            }
            _ => {}
        }
    }
    let ratio: f64 = r.parsed("OTEL_TRACES_SAMPLER_ARG", "a ratio between 0 and 1");
    if !(0.0..=1.0).contains(&ratio) {
        r.problems.push(format!("OTEL_TRACES_SAMPLER_ARG: expected a ratio between 0 and 1, got {ratio}"));
    }
    let sampler = match r.text("OTEL_TRACES_SAMPLER").as_str() {
        "always_on" => OtelSampler::AlwaysOn,
        "always_off" => OtelSampler::AlwaysOff,
        "traceidratio" => OtelSampler::Ratio(ratio),
        "parentbased_always_on" => OtelSampler::ParentBased(OtelRootSampler::AlwaysOn),
        "parentbased_always_off" => OtelSampler::ParentBased(OtelRootSampler::AlwaysOff),
        "parentbased_traceidratio" => OtelSampler::ParentBased(OtelRootSampler::Ratio(ratio)),
        other => {
            r.problems.push(format!(
                "OTEL_TRACES_SAMPLER: expected always_on, always_off, traceidratio, parentbased_always_on, \
                 parentbased_always_off or parentbased_traceidratio, got {other:?}"
            ));
            OtelSampler::ParentBased(OtelRootSampler::AlwaysOn)
        }
    };
    let service_name = r.text("OTEL_SERVICE_NAME");
    Some(OtelConfig { endpoint: endpoint?.trim_end_matches('/').to_string(), headers, service_name, sampler })
}

/// A configuration from `vars` alone, for the unit tests of every part.
#[cfg(test)]
fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: std::collections::HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(&move |k| map.get(k).cloned())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn development_needs_no_variables() {
        let c = load(&[]).unwrap();
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.server.listen.port(), 8005);
        assert!(c.server.listen.ip().is_loopback(), "a developer's machine listens on loopback only");
        assert!(c.database.url.starts_with("sqlite:"));
        assert_eq!(c.quota.free, 50);
        assert_eq!(c.quota.paid, 500);
        assert_eq!(c.plugins.function_timeout, Duration::from_secs(30));
        assert_eq!(c.plugins.database_poll_interval, Duration::from_secs(10));
        assert_eq!((c.plugins.state_max_keys, c.plugins.state_max_bytes), (1000, 8 << 20));
        assert_eq!(c.database.purge_interval, Duration::from_secs(600));
        assert_eq!(c.server.header_timeout, Duration::from_secs(10));
        assert_eq!(c.server.idle_timeout, Duration::from_secs(75));
        assert_eq!(c.server.max_connections, 10_000);
        assert_eq!(c.server.slow_client_timeout, Duration::from_secs(30));
        assert_eq!(c.server.concurrent_turns_per_user, 3);
    }

    #[test]
    fn the_plugin_memory_budget_defaults_to_a_share_of_the_machine() {
        let c = load(&[]).unwrap();
        assert_eq!(c.plugins.memory_budget_bytes, tools::default_budget_bytes());
        assert_eq!(c.plugins.memory_wait, Duration::from_millis(2000));
        assert_eq!(c.plugins.max_requests_in_flight, 16);
        let set = load(&[("PLUGIN_MEMORY_BUDGET_BYTES", "536870912"), ("PLUGIN_MEMORY_WAIT_MS", "0")]).unwrap();
        assert_eq!(set.plugins.memory_budget_bytes, 512 << 20);
        assert_eq!(set.plugins.memory_wait, Duration::ZERO);
        for bad in ["0", "1000", "half"] {
            let err = load(&[("PLUGIN_MEMORY_BUDGET_BYTES", bad)]).unwrap_err();
            assert!(err.problems[0].starts_with("PLUGIN_MEMORY_BUDGET_BYTES: expected a number of bytes"), "{err}");
        }
        assert!(load(&[("PLUGIN_MAX_REQUESTS_IN_FLIGHT", "0")]).is_err());
    }

    #[test]
    fn the_listen_address_is_a_setting() {
        assert_eq!(
            load(&[("BIND_ADDRESS", "0.0.0.0"), ("PORT", "9000")]).unwrap().server.listen.to_string(),
            "0.0.0.0:9000"
        );
        assert_eq!(load(&[("BIND_ADDRESS", "::1")]).unwrap().server.listen.to_string(), "[::1]:8005");
        let staging = load(&[("ENVIRONMENT", "staging")]).unwrap();
        assert!(staging.server.listen.ip().is_unspecified(), "a deployment listens on every interface");
        let err = load(&[("BIND_ADDRESS", "localhost")]).unwrap_err();
        assert!(err.problems[0].starts_with("BIND_ADDRESS"), "{err}");
    }

    #[test]
    fn only_development_and_test_get_a_default_internal_key() {
        let internal_key = |c: Config| c.auth.internal_api_key.map(|k| k.expose().to_string());
        assert_eq!(internal_key(load(&[]).unwrap()).as_deref(), Some(DEFAULT_INTERNAL_API_KEY));
        assert_eq!(internal_key(load(&[("ENVIRONMENT", "test")]).unwrap()).as_deref(), Some(DEFAULT_INTERNAL_API_KEY));
        assert_eq!(internal_key(load(&[("ENVIRONMENT", "staging")]).unwrap()), None);
        assert_eq!(
            internal_key(load(&[("ENVIRONMENT", "staging"), ("INTERNAL_API_KEY", "k")]).unwrap()).as_deref(),
            Some("k")
        );
    }

    #[test]
    fn opentelemetry_is_off_without_an_endpoint_and_its_settings_are_validated() {
        assert!(load(&[]).unwrap().telemetry.otel.is_none());
        assert!(load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]).unwrap().telemetry.otel.is_none(), "blank is off");
        let c = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=collector-key-123456,x-dataset = chat"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])
        .unwrap();
        let otel = c.telemetry.otel.clone().unwrap();
        assert_eq!(otel.endpoint, "https://collector.example:4318");
        assert_eq!(otel.service_name, "amakaflow-chat");
        assert_eq!(otel.sampler, OtelSampler::ParentBased(OtelRootSampler::Ratio(0.25)));
        let headers: Vec<(&str, &str)> = otel.headers.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        assert_eq!(headers, [("x-honeycomb-team", "collector-key-123456"), ("x-dataset", "chat")]);
        assert!(c.secret_values().contains(&"collector-key-123456".to_string()), "the headers are secrets");
        assert_eq!(
            load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]).unwrap().telemetry.otel.unwrap().sampler,
            OtelSampler::ParentBased(OtelRootSampler::AlwaysOn)
        );
        for (name, value) in [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ("OTEL_TRACES_SAMPLER_ARG", "half"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "no-equals-sign-secretish"),
        ] {
            let endpoint = if name == "OTEL_EXPORTER_OTLP_ENDPOINT" { value } else { "http://c:4318" };
            let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint), (name, value)];
            let err = load(&vars).unwrap_err();
            assert!(err.problems.iter().any(|p| p.starts_with(name)), "{name}={value}: {err}");
            assert!(!err.to_string().contains("secretish"), "a header value is never echoed: {err}");
        }
    }

    #[test]
    fn telemetry_settings_are_validated() {
        let c = load(&[]).unwrap();
        assert!(c.telemetry.metrics_enabled);
        assert_eq!(c.telemetry.traces_sample_rate, 0.1);
        let c = load(&[("METRICS_ENABLED", "false"), ("SENTRY_DSN", "https://public@o1.ingest.sentry.io/42")]).unwrap();
        assert!(!c.telemetry.metrics_enabled);
        for (name, value) in [("SENTRY_DSN", "not-a-dsn-secretish"), ("SENTRY_TRACES_SAMPLE_RATE", "1.5")] {
            let err = load(&[(name, value)]).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{err}");
            assert!(err.problems[0].starts_with(name), "{err}");
            assert!(!err.to_string().contains("secretish"), "{err}");
        }
    }

    #[test]
    fn secret_values_lists_every_configured_secret() {
        let c = load(&[
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("OPENAI_API_KEY", "sk-openai-secret"),
            ("INTERNAL_API_KEY", "internal-secret"),
            ("ADMIN_API_KEY", "admin-secret"),
            ("METRICS_TOKEN", "metrics-secret"),
            ("API_KEYS", "apikey-secret:user_1"),
            ("DATABASE_URL", "postgres://chat:db-password@db.example.com/chat"),
        ])
        .unwrap();
        let secrets = c.secret_values();
        for s in [
            "sk-ant-secret",
            "sk-openai-secret",
            "internal-secret",
            "admin-secret",
            "metrics-secret",
            "apikey-secret",
            "db-password",
            DEFAULT_JWT_SECRET,
        ] {
            assert!(secrets.iter().any(|v| v == s), "{s} missing");
        }
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let c = load(&[
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("JWT_SECRET", "jwt-secret-value"),
            ("OPENAI_API_KEY", "sk-openai"),
            ("HELICONE_ENABLED", "true"),
            ("HELICONE_API_KEY", "helicone-secret"),
            ("INTERNAL_API_KEY", "internal-secret"),
            ("ADMIN_API_KEY", "admin-secret"),
            ("METRICS_TOKEN", "metrics-secret"),
            ("TEST_AUTH_SECRET", "test-auth-secret"),
            ("API_KEYS", "apikey-secret:user_1"),
            ("SENTRY_DSN", "https://dsnkey@o1.ingest.sentry.io/42"),
        ])
        .unwrap();
        let dump = format!("{c:?}");
        assert!(!dump.contains("sk-ant-secret") && !dump.contains("jwt-secret-value") && !dump.contains("sk-openai"));
        for secret in [
            "helicone-secret",
            "internal-secret",
            "admin-secret",
            "metrics-secret",
            "test-auth-secret",
            "apikey-secret",
            "dsnkey",
        ] {
            assert!(!dump.contains(secret), "{secret} in {dump}");
        }
    }
}
