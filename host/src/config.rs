//! Every setting of the service, read from the environment once at start-up into one typed struct.
//!
//! Parsing collects every problem before failing, so an operator sees all bad variables in one
//! error. `ENVIRONMENT=production` additionally requires the production variables and refuses
//! secrets that are known development defaults. Development needs no variables at all.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The mobile pairing secret of the original service; accepted in development only.
pub const DEFAULT_JWT_SECRET: &str = "amakaflow-mobile-jwt-secret-change-in-production";
/// The internal key development and test use when none is set; staging and production have no
/// default (internal routes answer 503 until one is configured) and production refuses this value.
pub const DEFAULT_INTERNAL_API_KEY: &str = "dev-internal-key";

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
}

/// Where the database lives. `DATABASE_URL` unset means a SQLite file under `data/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseConfig {
    pub url: String,
    /// Apply migrations at start-up. Off (`RUN_MIGRATIONS=false`) for a shared database whose schema
    /// is managed elsewhere.
    pub run_migrations: bool,
    pub max_connections: u32,
}

/// How users and services authenticate.
#[derive(Clone)]
pub struct AuthConfig {
    /// Clerk frontend API host (`clerk.example.com`) or, for local stand-ins, a full `http://` origin.
    pub clerk_domain: Option<String>,
    /// Expected `iss` of Clerk tokens; defaults to `https://$CLERK_DOMAIN`.
    pub clerk_issuer: Option<String>,
    /// Secret of the HS256 mobile pairing tokens.
    pub jwt_secret: String,
    /// `X-API-Key` values: key → user id (`"admin"` for a key without `:user`).
    pub api_keys: HashMap<String, String>,
    /// Shared secret of the `X-Test-Auth` bypass; ignored in production.
    pub test_auth_secret: Option<String>,
    /// `X-Internal-Key` for service-to-service routes and the plugin admin API.
    pub internal_api_key: Option<String>,
    /// Least time between two JWKS fetches triggered by unknown key ids.
    pub jwks_min_refresh: Duration,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("clerk_domain", &self.clerk_domain)
            .field("clerk_issuer", &self.clerk_issuer)
            .field("jwt_secret", &"<redacted>")
            .field("api_keys", &format_args!("<{} keys>", self.api_keys.len()))
            .field("test_auth_secret", &self.test_auth_secret.as_ref().map(|_| "<redacted>"))
            .field("internal_api_key", &self.internal_api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The Anthropic connection, optionally through Helicone.
#[derive(Clone)]
pub struct AnthropicConfig {
    pub api_key: Option<String>,
    /// `https://api.anthropic.com` unless a stand-in or Helicone is used.
    pub base_url: String,
    pub model: String,
    pub max_tokens: u32,
    pub helicone_enabled: bool,
    pub helicone_api_key: Option<String>,
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

impl fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("max_tokens", &self.max_tokens)
            .field("helicone_enabled", &self.helicone_enabled)
            .field("helicone_base_url", &self.helicone_base_url)
            .field("history_token_budget", &self.history_token_budget)
            .field("max_retries", &self.max_retries)
            .field("retry_base", &self.retry_base)
            .field("stall_timeout", &self.stall_timeout)
            .finish()
    }
}

/// OpenAI, used for embeddings.
#[derive(Clone)]
pub struct OpenAiConfig {
    pub api_key: Option<String>,
    pub base_url: String,
    pub embedding_model: String,
    pub embedding_batch_size: usize,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("embedding_model", &self.embedding_model)
            .field("embedding_batch_size", &self.embedding_batch_size)
            .finish()
    }
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
    /// Per-request HTTP timeout of the plugins' downstream calls (manifests: `${TOOL_HTTP_TIMEOUT_SECONDS}`).
    pub http_timeout: Duration,
    /// Strava/Garmin syncs per user and hour (the `sync` manifest: `${SYNC_RATE_LIMIT_PER_HOUR}`).
    pub sync_limit_per_hour: u32,
    /// How often to check the database for plugins uploaded or rolled back through another
    /// instance (`PLUGINS_SYNC_SECONDS`, fractional; zero disables the check).
    pub sync_interval: Duration,
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
    /// Validated at start-up: a DSN Sentry's client would silently ignore is an error instead.
    pub sentry_dsn: Option<String>,
    /// `RENDER_GIT_COMMIT`: Sentry's release.
    pub release: Option<String>,
    /// The share of requests traced as Sentry transactions (`SENTRY_TRACES_SAMPLE_RATE`).
    pub traces_sample_rate: f32,
    /// `METRICS_ENABLED=false` installs no recorder and serves no `/metrics` (the overhead benchmark's
    /// baseline).
    pub metrics_enabled: bool,
    pub json_logs: bool,
}

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

/// Reads variables from a source and records problems instead of stopping at the first one.
struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    /// A set, non-blank value.
    fn string(&self, name: &str) -> Option<String> {
        (self.get)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn string_or(&self, name: &str, default: &str) -> String {
        self.string(name).unwrap_or_else(|| default.to_string())
    }

    fn parsed<T: std::str::FromStr>(&mut self, name: &str, default: T, what: &str) -> T {
        match self.string(name) {
            None => default,
            Some(raw) => match raw.parse() {
                Ok(v) => v,
                Err(_) => {
                    self.problems.push(format!("{name}: expected {what}, got {raw:?}"));
                    default
                }
            },
        }
    }

    fn bool(&mut self, name: &str, default: bool) -> bool {
        match self.string(name).map(|v| v.to_ascii_lowercase()) {
            None => default,
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                self.problems.push(format!("{name}: expected true or false, got {v:?}"));
                default
            }
        }
    }

    /// A duration in (fractional) seconds within `min..=max`; `min_exclusive` refuses `min` itself.
    fn seconds(&mut self, name: &str, default: f64, min: f64, max: f64, min_exclusive: bool) -> Duration {
        let secs: f64 = self.parsed(name, default, "a number of seconds");
        let low_ok = if min_exclusive { secs > min } else { secs >= min };
        if secs.is_finite() && low_ok && secs <= max {
            return Duration::from_secs_f64(secs);
        }
        let low = if min_exclusive { format!("more than {min}") } else { format!("at least {min}") };
        self.problems.push(format!("{name}: expected {low} and at most {max} seconds, got {secs}"));
        Duration::from_secs_f64(default)
    }

    fn url(&mut self, name: &str, default: &str) -> String {
        let v = self.string_or(name, default);
        if !(v.starts_with("http://") || v.starts_with("https://")) {
            self.problems.push(format!("{name}: expected an http(s) URL, got {v:?}"));
        }
        v.trim_end_matches('/').to_string()
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads from any lookup (tests pass a map).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut r = Reader { get, problems: Vec::new() };

        let environment = match r.string("ENVIRONMENT").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("test") => Environment::Test,
            Some("staging") => Environment::Staging,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                r.problems
                    .push(format!("ENVIRONMENT: expected development, test, staging or production, got {other:?}"));
                Environment::Development
            }
        };
        let production = environment.is_production();

        let port: u16 = r.parsed("PORT", 8005, "a port number");
        let allowed_origins = parse_origins(&r.string("ALLOWED_ORIGINS").unwrap_or_default());
        for origin in &allowed_origins {
            if let Err(why) = check_origin(origin) {
                r.problems.push(format!("ALLOWED_ORIGINS: {origin:?} {why}"));
            }
        }
        let server = ServerConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            allowed_origins,
            max_body_bytes: r.parsed("MAX_BODY_BYTES", 256 * 1024, "a byte count"),
            sse_warn_connections: r.parsed("SSE_CONNECTIONS_WARN", 150, "a count"),
            sse_critical_connections: r.parsed("SSE_CONNECTIONS_CRITICAL", 200, "a count"),
            shutdown_grace: r.seconds("SHUTDOWN_GRACE_SECONDS", 5.0, 0.0, 300.0, false),
        };

        let database = DatabaseConfig {
            url: r.string("DATABASE_URL").unwrap_or_else(|| "sqlite://data/chat.db".to_string()),
            run_migrations: r.bool("RUN_MIGRATIONS", true),
            max_connections: r.parsed("DATABASE_MAX_CONNECTIONS", 16, "a count"),
        };
        if !(database.url.starts_with("postgres://")
            || database.url.starts_with("postgresql://")
            || database.url.starts_with("sqlite:"))
        {
            r.problems.push("DATABASE_URL: expected postgres://… or sqlite:…".to_string());
        }

        let api_keys_raw = r.string("API_KEYS").unwrap_or_default();
        let auth = AuthConfig {
            clerk_domain: r.string("CLERK_DOMAIN").map(|d| d.trim_end_matches('/').to_string()),
            clerk_issuer: r.string("CLERK_ISSUER"),
            jwt_secret: r.string_or("JWT_SECRET", DEFAULT_JWT_SECRET),
            api_keys: parse_api_keys(&api_keys_raw),
            test_auth_secret: r.string("TEST_AUTH_SECRET"),
            internal_api_key: r.string("INTERNAL_API_KEY").or_else(|| {
                matches!(environment, Environment::Development | Environment::Test)
                    .then(|| DEFAULT_INTERNAL_API_KEY.to_string())
            }),
            jwks_min_refresh: r.seconds("CLERK_JWKS_MIN_REFRESH_SECONDS", 300.0, 0.0, 86_400.0, false),
        };

        let helicone_enabled = r.bool("HELICONE_ENABLED", false);
        let anthropic = AnthropicConfig {
            api_key: r.string("ANTHROPIC_API_KEY"),
            base_url: r.url("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
            model: r.string_or("DEFAULT_MODEL", "claude-sonnet-4-20250514"),
            max_tokens: r.parsed("ANTHROPIC_MAX_TOKENS", 4096, "a token count"),
            helicone_enabled,
            helicone_api_key: r.string("HELICONE_API_KEY"),
            helicone_base_url: r.url("HELICONE_BASE_URL", "https://anthropic.helicone.ai"),
            history_token_budget: r.parsed("HISTORY_TOKEN_BUDGET", 30_000, "a token count"),
            max_retries: r.parsed("ANTHROPIC_MAX_RETRIES", 3, "a count"),
            retry_base: r.seconds("ANTHROPIC_RETRY_BASE_SECONDS", 0.5, 0.0, 60.0, false),
            stall_timeout: r.seconds("ANTHROPIC_STALL_TIMEOUT_SECONDS", 60.0, 0.0, 600.0, true),
        };
        if helicone_enabled && anthropic.helicone_api_key.is_none() {
            r.problems.push("HELICONE_API_KEY: required when HELICONE_ENABLED=true".to_string());
        }

        let openai = OpenAiConfig {
            api_key: r.string("OPENAI_API_KEY"),
            base_url: r.url("OPENAI_BASE_URL", "https://api.openai.com"),
            embedding_model: r.string_or("EMBEDDING_MODEL", "text-embedding-3-small"),
            embedding_batch_size: r.parsed("EMBEDDING_BATCH_SIZE", 100, "a count"),
        };

        let downstream = DownstreamConfig {
            mapper_api_url: r.url("MAPPER_API_URL", "http://localhost:8001"),
            calendar_api_url: r.url("CALENDAR_API_URL", "http://localhost:8002"),
            workout_ingestor_api_url: r.url("WORKOUT_INGESTOR_API_URL", "http://localhost:8003"),
            strava_sync_api_url: r.url("STRAVA_SYNC_API_URL", "http://localhost:8000"),
            garmin_sync_api_url: r.url("GARMIN_SYNC_API_URL", "http://localhost:8006"),
        };

        let plugins_dir = PathBuf::from(r.string_or("PLUGINS_DIR", "plugins.d"));
        let function_timeout = r.seconds("FUNCTION_TIMEOUT_SECONDS", 30.0, 0.0, 600.0, true);
        let plugins = PluginsConfig {
            cache_dir: r.string("PLUGIN_CACHE_DIR").map(PathBuf::from).unwrap_or_else(|| plugins_dir.join(".cache")),
            dir: plugins_dir,
            function_timeout,
            watch: r.bool("PLUGINS_WATCH", true),
            http_timeout: r.seconds("TOOL_HTTP_TIMEOUT_SECONDS", 25.0, 0.0, 600.0, true),
            sync_limit_per_hour: r.parsed("SYNC_RATE_LIMIT_PER_HOUR", 3, "a count"),
            sync_interval: r.seconds("PLUGINS_SYNC_SECONDS", 10.0, 0.0, 3600.0, false),
        };

        let quota = QuotaConfig {
            free: r.parsed("RATE_LIMIT_FREE", 50, "a message count"),
            paid: r.parsed("RATE_LIMIT_PAID", 500, "a message count"),
        };

        let sentry_dsn = r.string("SENTRY_DSN");
        if let Some(dsn) = &sentry_dsn
            && dsn.parse::<sentry::types::Dsn>().is_err()
        {
            // The DSN holds a key: the value is not echoed.
            r.problems.push("SENTRY_DSN: not a valid Sentry DSN (https://<key>@<host>/<project>)".to_string());
        }
        let traces_sample_rate: f32 = r.parsed("SENTRY_TRACES_SAMPLE_RATE", 0.1, "a rate between 0 and 1");
        if !(0.0..=1.0).contains(&traces_sample_rate) {
            r.problems
                .push(format!("SENTRY_TRACES_SAMPLE_RATE: expected a rate between 0 and 1, got {traces_sample_rate}"));
        }
        let telemetry = TelemetryConfig {
            sentry_dsn,
            release: r.string("RENDER_GIT_COMMIT"),
            traces_sample_rate,
            metrics_enabled: r.bool("METRICS_ENABLED", true),
            json_logs: r.bool("LOG_JSON", production),
        };

        if production {
            let problems = check_production(&r, &auth);
            r.problems.extend(problems);
        }

        if r.problems.is_empty() {
            Ok(Config {
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
            })
        } else {
            Err(ConfigError { problems: r.problems })
        }
    }

    /// Every configured secret value: error reports and logs must never contain one.
    pub fn secret_values(&self) -> Vec<String> {
        let auth = &self.auth;
        let mut secrets: Vec<String> = [
            self.anthropic.api_key.as_deref(),
            self.anthropic.helicone_api_key.as_deref(),
            self.openai.api_key.as_deref(),
            auth.internal_api_key.as_deref(),
            auth.test_auth_secret.as_deref(),
            Some(auth.jwt_secret.as_str()),
            database_password(&self.database.url),
        ]
        .into_iter()
        .flatten()
        .map(str::to_string)
        .collect();
        secrets.extend(auth.api_keys.keys().cloned());
        // Replacing a very short value would mangle unrelated text (and it is no real secret).
        secrets.retain(|s| s.len() >= 6);
        secrets
    }

    /// The environment variables a plugin manifest may interpolate with `${NAME}`. Secrets are
    /// included because manifests inject them into outgoing headers; the host never passes them
    /// into the guest.
    pub fn plugin_env(&self) -> HashMap<String, String> {
        let mut env = HashMap::new();
        let d = &self.downstream;
        env.insert("MAPPER_API_URL".into(), d.mapper_api_url.clone());
        env.insert("CALENDAR_API_URL".into(), d.calendar_api_url.clone());
        env.insert("WORKOUT_INGESTOR_API_URL".into(), d.workout_ingestor_api_url.clone());
        env.insert("STRAVA_SYNC_API_URL".into(), d.strava_sync_api_url.clone());
        env.insert("GARMIN_SYNC_API_URL".into(), d.garmin_sync_api_url.clone());
        env.insert("OPENAI_BASE_URL".into(), self.openai.base_url.clone());
        env.insert("EMBEDDING_MODEL".into(), self.openai.embedding_model.clone());
        env.insert("TOOL_HTTP_TIMEOUT_SECONDS".into(), self.plugins.http_timeout.as_secs_f64().to_string());
        env.insert("SYNC_RATE_LIMIT_PER_HOUR".into(), self.plugins.sync_limit_per_hour.to_string());
        if let Some(key) = &self.openai.api_key {
            env.insert("OPENAI_API_KEY".into(), key.clone());
        }
        env
    }
}

/// How a deployment provides a variable (`render.yaml` and `docs/operations.md` follow it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvKind {
    /// A plain setting with a default; safe to show in a blueprint.
    Setting,
    /// A credential or a value containing one: entered in the platform's dashboard, never committed.
    Secret,
    /// Set by the platform itself (Render sets `RENDER_GIT_COMMIT`); not declared by us.
    Platform,
    /// Only meaningful outside production; a deployment leaves it unset.
    DevOnly,
}

/// One environment variable the service reads.
#[derive(Clone, Copy, Debug)]
pub struct EnvVar {
    pub name: &'static str,
    pub kind: EnvKind,
    /// The value used when unset, as an operator would write it (`""` when there is none).
    pub default: &'static str,
    pub description: &'static str,
}

impl EnvVar {
    pub fn required_in_production(&self) -> bool {
        PRODUCTION_REQUIRED.contains(&self.name)
    }
}

const fn var(name: &'static str, kind: EnvKind, default: &'static str, description: &'static str) -> EnvVar {
    EnvVar { name, kind, default, description }
}

/// Every variable [`Config::from_lookup`] reads (a unit test holds the two together), so the README,
/// `docs/operations.md` and `render.yaml` can be checked against the code.
pub const ENV_VARS: &[EnvVar] = {
    use EnvKind::*;
    &[
        var("ENVIRONMENT", Setting, "development", "development, test, staging or production"),
        var("PORT", Setting, "8005", "listen port on 0.0.0.0"),
        var(
            "ALLOWED_ORIGINS",
            Setting,
            "",
            "CORS origins and allowed Clerk azp values (comma-separated or JSON array)",
        ),
        var("MAX_BODY_BYTES", Setting, "262144", "request body limit"),
        var("SSE_CONNECTIONS_WARN", Setting, "150", "open streams at which a warning is logged"),
        var("SSE_CONNECTIONS_CRITICAL", Setting, "200", "open streams at which an error is logged"),
        var("SHUTDOWN_GRACE_SECONDS", Setting, "5", "how long streams may finish after SIGTERM"),
        var("DATABASE_URL", Secret, "sqlite://data/chat.db", "postgres://… (Supabase's connection string) or sqlite:…"),
        var("RUN_MIGRATIONS", Setting, "true", "apply migrations at start-up"),
        var("DATABASE_MAX_CONNECTIONS", Setting, "16", "database pool size"),
        var("API_KEYS", Secret, "", "key:user_id pairs accepted in X-API-Key (comma-separated)"),
        var(
            "CLERK_DOMAIN",
            Setting,
            "",
            "Clerk Frontend API host; JWKS at https://$CLERK_DOMAIN/.well-known/jwks.json",
        ),
        var("CLERK_ISSUER", Setting, "https://$CLERK_DOMAIN", "expected iss of Clerk tokens"),
        var(
            "JWT_SECRET",
            Secret,
            "development default",
            "HS256 secret of mobile pairing tokens (≥ 32 characters in production)",
        ),
        var("TEST_AUTH_SECRET", DevOnly, "", "enables the X-Test-Auth bypass outside production"),
        var(
            "INTERNAL_API_KEY",
            Secret,
            "dev-internal-key (development and test only)",
            "X-Internal-Key for /internal/* and /admin/*",
        ),
        var(
            "CLERK_JWKS_MIN_REFRESH_SECONDS",
            Setting,
            "300",
            "least time between JWKS fetches caused by unknown key ids",
        ),
        var("HELICONE_ENABLED", Setting, "false", "route Claude calls through Helicone"),
        var("ANTHROPIC_API_KEY", Secret, "", "Anthropic API key"),
        var("ANTHROPIC_BASE_URL", Setting, "https://api.anthropic.com", "Anthropic endpoint"),
        var("DEFAULT_MODEL", Setting, "claude-sonnet-4-20250514", "Claude model id"),
        var("ANTHROPIC_MAX_TOKENS", Setting, "4096", "max_tokens of each Claude call"),
        var("HELICONE_API_KEY", Secret, "", "Helicone key (required when HELICONE_ENABLED=true)"),
        var("HELICONE_BASE_URL", Setting, "https://anthropic.helicone.ai", "Helicone's Anthropic gateway"),
        var("HISTORY_TOKEN_BUDGET", Setting, "30000", "estimated tokens of earlier conversation sent with each call"),
        var("ANTHROPIC_MAX_RETRIES", Setting, "3", "retries of a Claude request that failed before its first byte"),
        var("ANTHROPIC_RETRY_BASE_SECONDS", Setting, "0.5", "first retry backoff (doubled each time, with jitter)"),
        var("ANTHROPIC_STALL_TIMEOUT_SECONDS", Setting, "60", "longest silence tolerated on a Claude stream"),
        var("OPENAI_API_KEY", Secret, "", "OpenAI key (embeddings)"),
        var("OPENAI_BASE_URL", Setting, "https://api.openai.com", "OpenAI endpoint"),
        var("EMBEDDING_MODEL", Setting, "text-embedding-3-small", "embedding model"),
        var("EMBEDDING_BATCH_SIZE", Setting, "100", "texts per embeddings request"),
        var("MAPPER_API_URL", Setting, "http://localhost:8001", "mapper-api base URL"),
        var("CALENDAR_API_URL", Setting, "http://localhost:8002", "calendar-api base URL"),
        var("WORKOUT_INGESTOR_API_URL", Setting, "http://localhost:8003", "workout-ingestor-api base URL"),
        var("STRAVA_SYNC_API_URL", Setting, "http://localhost:8000", "strava-sync-api base URL"),
        var("GARMIN_SYNC_API_URL", Setting, "http://localhost:8006", "garmin-sync-api base URL"),
        var("PLUGINS_DIR", Setting, "plugins.d", "where plugins are loaded from (and watched)"),
        var("FUNCTION_TIMEOUT_SECONDS", Setting, "30", "default wall-clock budget of one tool call"),
        var("PLUGIN_CACHE_DIR", Setting, "$PLUGINS_DIR/.cache", "compiled-plugin cache"),
        var("PLUGINS_WATCH", Setting, "true", "watch PLUGINS_DIR and reload changed plugins"),
        var("TOOL_HTTP_TIMEOUT_SECONDS", Setting, "25", "per-request timeout of the plugins' downstream calls"),
        var("SYNC_RATE_LIMIT_PER_HOUR", Setting, "3", "Strava/Garmin syncs per user and hour"),
        var(
            "PLUGINS_SYNC_SECONDS",
            Setting,
            "10",
            "how often each instance checks the database for plugins uploaded or rolled back elsewhere (0: never)",
        ),
        var("RATE_LIMIT_FREE", Setting, "50", "monthly messages of the free tier"),
        var("RATE_LIMIT_PAID", Setting, "500", "monthly messages of the paid tiers"),
        var("SENTRY_DSN", Secret, "", "Sentry DSN (error tracking off when unset)"),
        var("RENDER_GIT_COMMIT", Platform, "", "the deployed commit, reported as the Sentry release"),
        var("SENTRY_TRACES_SAMPLE_RATE", Setting, "0.1", "share of requests traced in Sentry (0 to 1)"),
        var("METRICS_ENABLED", Setting, "true", "record metrics and serve GET /metrics"),
        var("LOG_JSON", Setting, "true in production, else false", "JSON logs"),
        // Read by tracing's `EnvFilter` (telemetry/logs.rs), not by `Config`.
        var(
            "RUST_LOG",
            Setting,
            "info,sqlx=warn,wasmtime=warn,cranelift=warn",
            "log filter (tracing EnvFilter syntax)",
        ),
    ]
};

/// The variables production refuses to start without.
pub const PRODUCTION_REQUIRED: &[&str] = &[
    "DATABASE_URL",
    "CLERK_DOMAIN",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "ALLOWED_ORIGINS",
    "INTERNAL_API_KEY",
    "JWT_SECRET",
];

/// Production rules: the variables that must be set and the defaults that must not be used.
fn check_production(r: &Reader<'_>, auth: &AuthConfig) -> Vec<String> {
    let mut problems = Vec::new();
    for &name in PRODUCTION_REQUIRED {
        if r.string(name).is_none() {
            problems.push(format!("{name}: required in production"));
        }
    }
    // Unset is reported above; a set secret must be neither the public default nor short.
    if let Some(secret) = r.string("JWT_SECRET") {
        if secret == DEFAULT_JWT_SECRET {
            problems.push("JWT_SECRET: the development default must not be used in production".to_string());
        } else if secret.len() < 32 {
            problems.push("JWT_SECRET: must be at least 32 characters in production".to_string());
        }
    }
    if auth.internal_api_key.as_deref() == Some(DEFAULT_INTERNAL_API_KEY) {
        problems.push("INTERNAL_API_KEY: the development default must not be used in production".to_string());
    }
    if let Some(url) = r.string("DATABASE_URL")
        && url.starts_with("sqlite:")
    {
        problems.push("DATABASE_URL: production needs Postgres, not SQLite".to_string());
    }
    if let Some(domain) = &auth.clerk_domain
        && domain.starts_with("http://")
    {
        problems.push("CLERK_DOMAIN: plain http is not allowed in production".to_string());
    }
    problems
}

/// The password of a `postgres://user:password@host/db` URL.
fn database_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    userinfo.split_once(':').map(|(_, password)| password).filter(|p| !p.is_empty())
}

/// `ALLOWED_ORIGINS` as a comma-separated list or a JSON array string, as the original accepted.
pub fn parse_origins(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if raw.starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<String>>(raw)
    {
        return list
            .into_iter()
            .map(|o| o.trim().trim_end_matches('/').to_string())
            .filter(|o| !o.is_empty())
            .collect();
    }
    raw.split(',').map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect()
}

/// An allowed origin must be a concrete `http(s)://host[:port]`: a wildcard cannot be combined
/// with credentialed CORS, and anything else would never match a browser's `Origin` header.
fn check_origin(origin: &str) -> Result<(), &'static str> {
    let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    match rest {
        _ if origin.contains('*') => Err("is a wildcard; list the origins (credentials are allowed, so `*` cannot be)"),
        None => Err("is not an http(s) origin"),
        Some(host) if host.is_empty() || host.contains('/') => Err("must be scheme://host[:port] without a path"),
        Some(_) if axum::http::HeaderValue::from_str(origin).is_err() => {
            Err("contains characters a header cannot carry")
        }
        Some(_) => Ok(()),
    }
}

/// `API_KEYS`: comma-separated `key` or `key:user_id`; a bare key authenticates as `admin`.
pub fn parse_api_keys(raw: &str) -> HashMap<String, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|entry| match entry.split_once(':') {
            Some((key, user)) if !user.trim().is_empty() => (key.trim().to_string(), user.trim().to_string()),
            Some((key, _)) => (key.trim().to_string(), "admin".to_string()),
            None => (entry.to_string(), "admin".to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(&move |k| map.get(k).cloned())
    }

    /// The names `from_lookup` asks for, in development and in production.
    fn names_read() -> std::collections::BTreeSet<String> {
        let asked = std::sync::Mutex::new(std::collections::BTreeSet::new());
        for environment in ["development", "production"] {
            let _ = Config::from_lookup(&|name| {
                asked.lock().unwrap().insert(name.to_string());
                (name == "ENVIRONMENT").then(|| environment.to_string())
            });
        }
        asked.into_inner().unwrap()
    }

    #[test]
    fn env_vars_lists_exactly_the_variables_read() {
        let listed: std::collections::BTreeSet<String> = ENV_VARS.iter().map(|v| v.name.to_string()).collect();
        assert_eq!(listed.len(), ENV_VARS.len(), "a variable is listed twice");
        let read_elsewhere = std::collections::BTreeSet::from(["RUST_LOG".to_string()]);
        let listed_for_config = listed.difference(&read_elsewhere).cloned().collect();
        assert_eq!(names_read(), listed_for_config, "ENV_VARS and Config::from_lookup disagree");
        for name in PRODUCTION_REQUIRED {
            let var = ENV_VARS.iter().find(|v| v.name == *name).unwrap();
            assert!(var.required_in_production());
            assert_ne!(var.kind, EnvKind::DevOnly, "{name}");
        }
    }

    #[test]
    fn development_needs_no_variables() {
        let c = load(&[]).unwrap();
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.server.listen.port(), 8005);
        assert!(c.database.url.starts_with("sqlite:"));
        assert_eq!(c.quota.free, 50);
        assert_eq!(c.quota.paid, 500);
        assert_eq!(c.plugins.function_timeout, Duration::from_secs(30));
        assert_eq!(c.plugins.sync_interval, Duration::from_secs(10));
    }

    #[test]
    fn production_names_every_missing_variable_in_one_error() {
        let err = load(&[("ENVIRONMENT", "production")]).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), PRODUCTION_REQUIRED.len(), "{text}");
        for name in PRODUCTION_REQUIRED {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
    }

    #[test]
    fn production_refuses_known_default_secrets() {
        let err = load(&[
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", "postgres://db/chat"),
            ("CLERK_DOMAIN", "clerk.example.com"),
            ("ANTHROPIC_API_KEY", "k"),
            ("OPENAI_API_KEY", "k"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
            ("INTERNAL_API_KEY", DEFAULT_INTERNAL_API_KEY),
            ("JWT_SECRET", DEFAULT_JWT_SECRET),
        ])
        .unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(err.to_string().contains("JWT_SECRET"));
        assert!(err.to_string().contains("INTERNAL_API_KEY"));
    }

    #[test]
    fn malformed_numbers_are_reported_with_their_variable() {
        let err = load(&[("PORT", "eighty"), ("RATE_LIMIT_FREE", "-1"), ("HELICONE_ENABLED", "maybe")]).unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.problems[0].starts_with("PORT"));
    }

    #[test]
    fn origins_accept_a_list_or_a_json_array() {
        assert_eq!(parse_origins("https://a.com, https://b.com/"), vec!["https://a.com", "https://b.com"]);
        assert_eq!(parse_origins(r#"["https://a.com"]"#), vec!["https://a.com"]);
        assert!(parse_origins("").is_empty());
    }

    #[test]
    fn api_keys_map_to_users() {
        let keys = parse_api_keys("k1:user_1, k2");
        assert_eq!(keys["k1"], "user_1");
        assert_eq!(keys["k2"], "admin");
    }

    /// A production environment that passes every check, to vary one variable at a time.
    const PRODUCTION: &[(&str, &str)] = &[
        ("ENVIRONMENT", "production"),
        ("DATABASE_URL", "postgres://chat:pw@db.example.com/chat"),
        ("CLERK_DOMAIN", "clerk.example.com"),
        ("ANTHROPIC_API_KEY", "sk-ant-k"),
        ("OPENAI_API_KEY", "sk-k"),
        ("ALLOWED_ORIGINS", "https://app.example.com"),
        ("INTERNAL_API_KEY", "a-long-random-internal-key"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    fn production_with(changes: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut vars: Vec<(&str, &str)> =
            PRODUCTION.iter().filter(|(k, _)| !changes.iter().any(|(c, _)| c == k)).copied().collect();
        vars.extend_from_slice(changes);
        load(&vars)
    }

    #[test]
    fn a_complete_production_environment_is_accepted() {
        let c = production_with(&[]).unwrap();
        assert!(c.environment.is_production());
        assert!(c.telemetry.json_logs, "production logs JSON by default");
    }

    #[test]
    fn production_refuses_sqlite_short_secrets_and_plain_http_clerk() {
        for (change, variable) in [
            (("DATABASE_URL", "sqlite://data/chat.db"), "DATABASE_URL"),
            (("JWT_SECRET", "too-short"), "JWT_SECRET"),
            (("CLERK_DOMAIN", "http://clerk.example.com"), "CLERK_DOMAIN"),
            (("ALLOWED_ORIGINS", "*"), "ALLOWED_ORIGINS"),
        ] {
            let err = production_with(&[change]).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{err}");
            assert!(err.problems[0].starts_with(variable), "{err}");
            assert!(!err.to_string().contains("too-short"), "secrets are not echoed: {err}");
        }
    }

    #[test]
    fn only_development_and_test_get_a_default_internal_key() {
        assert_eq!(load(&[]).unwrap().auth.internal_api_key.as_deref(), Some(DEFAULT_INTERNAL_API_KEY));
        assert_eq!(
            load(&[("ENVIRONMENT", "test")]).unwrap().auth.internal_api_key.as_deref(),
            Some(DEFAULT_INTERNAL_API_KEY)
        );
        assert_eq!(load(&[("ENVIRONMENT", "staging")]).unwrap().auth.internal_api_key, None);
        assert_eq!(
            load(&[("ENVIRONMENT", "staging"), ("INTERNAL_API_KEY", "k")]).unwrap().auth.internal_api_key.as_deref(),
            Some("k")
        );
    }

    #[test]
    fn durations_must_be_finite_and_in_range() {
        let c = load(&[
            ("CLERK_JWKS_MIN_REFRESH_SECONDS", "0"),
            ("SHUTDOWN_GRACE_SECONDS", "0.5"),
            ("FUNCTION_TIMEOUT_SECONDS", "60"),
            ("PLUGINS_SYNC_SECONDS", "0.2"),
        ])
        .unwrap();
        assert_eq!(c.plugins.sync_interval, Duration::from_millis(200));
        assert_eq!(load(&[("PLUGINS_SYNC_SECONDS", "0")]).unwrap().plugins.sync_interval, Duration::ZERO);
        assert_eq!(c.auth.jwks_min_refresh, Duration::ZERO);
        assert_eq!(c.server.shutdown_grace, Duration::from_millis(500));
        assert_eq!(c.plugins.function_timeout, Duration::from_secs(60));
        for (name, value) in [
            ("CLERK_JWKS_MIN_REFRESH_SECONDS", "-1"),
            ("SHUTDOWN_GRACE_SECONDS", "NaN"),
            ("SHUTDOWN_GRACE_SECONDS", "inf"),
            ("FUNCTION_TIMEOUT_SECONDS", "0"),
            ("FUNCTION_TIMEOUT_SECONDS", "601"),
            ("FUNCTION_TIMEOUT_SECONDS", "soon"),
            ("PLUGINS_SYNC_SECONDS", "-1"),
        ] {
            let err = load(&[(name, value)]).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{name}={value}: {err}");
            assert!(err.problems[0].starts_with(name), "{err}");
        }
    }

    #[test]
    fn allowed_origins_must_be_concrete_origins() {
        assert!(load(&[("ALLOWED_ORIGINS", "https://app.example.com, http://localhost:3000")]).is_ok());
        for bad in ["*", "https://*.example.com", "app.example.com", "https://app.example.com/path", "ftp://x"] {
            let err = load(&[("ALLOWED_ORIGINS", bad)]).unwrap_err();
            assert!(err.problems[0].starts_with("ALLOWED_ORIGINS"), "{bad}: {err}");
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
            ("API_KEYS", "apikey-secret:user_1"),
            ("DATABASE_URL", "postgres://chat:db-password@db.example.com/chat"),
        ])
        .unwrap();
        let secrets = c.secret_values();
        for s in
            ["sk-ant-secret", "sk-openai-secret", "internal-secret", "apikey-secret", "db-password", DEFAULT_JWT_SECRET]
        {
            assert!(secrets.iter().any(|v| v == s), "{s} missing");
        }
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let c = load(&[
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("JWT_SECRET", "jwt-secret-value"),
            ("OPENAI_API_KEY", "sk-openai"),
        ])
        .unwrap();
        let dump = format!("{c:?}");
        assert!(!dump.contains("sk-ant-secret") && !dump.contains("jwt-secret-value") && !dump.contains("sk-openai"));
    }
}
