//! The catalogue of environment variables: every variable the service reads, how a deployment
//! provides it, and what it is when unset.
//!
//! It exists so there is one list to check everything else against: the reader takes each default
//! from here (a default is written nowhere else), a unit test holds the list equal to what
//! `Config::from_lookup` reads, and the `deploy` suite checks `render.yaml`, the README and
//! `docs/operations.md` against it.

use super::production::PRODUCTION_REQUIRED;
use super::settings::Environment;

/// The mobile pairing secret of the original service: `JWT_SECRET` when unset. Public, so production
/// refuses it and the documentation calls it the "development default" instead of printing it.
pub const DEFAULT_JWT_SECRET: &str = "amakaflow-mobile-jwt-secret-change-in-production";
/// `INTERNAL_API_KEY` when unset in development and test; staging and production have no default
/// (internal routes answer 503 until one is configured) and production refuses this value.
pub const DEFAULT_INTERNAL_API_KEY: &str = "dev-internal-key";
/// `ADMIN_API_KEY` when unset in development and test, like [`DEFAULT_INTERNAL_API_KEY`]: public,
/// so production refuses it.
pub const DEFAULT_ADMIN_API_KEY: &str = "dev-admin-key";

/// `PLUGIN_SECRETS_KEY` when unset in development and test (32 bytes, base64): public, so it protects
/// nothing, and production refuses it.
pub const DEFAULT_PLUGIN_SECRETS_KEY: &str = "YW1ha2FmbG93LWRldi1wbHVnaW4tc2VjcmV0cy1rZXk=";

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

/// What the service uses for a variable that is unset (or blank).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenUnset {
    /// Nothing: the feature stays off, or production refuses to start without it.
    Nothing,
    /// This value, read exactly as if an operator had set it.
    Value(&'static str),
    /// This value in development and test; nothing in staging and production.
    DevelopmentValue(&'static str),
    /// `local` in development and test, `deployed` in staging and production.
    PerEnvironment { local: &'static str, deployed: &'static str },
    /// Worked out by the service from other settings (or not worth printing); described for operators.
    Described(&'static str),
}

/// One environment variable the service reads.
#[derive(Clone, Copy, Debug)]
pub struct EnvVar {
    pub name: &'static str,
    pub kind: EnvKind,
    pub default: WhenUnset,
    pub description: &'static str,
}

impl EnvVar {
    pub fn required_in_production(&self) -> bool {
        PRODUCTION_REQUIRED.contains(&self.name)
    }

    /// The value the variable takes when unset in `environment`, if there is one to read.
    pub fn default_in(&self, environment: Environment) -> Option<&'static str> {
        match self.default {
            WhenUnset::Value(value) => Some(value),
            WhenUnset::DevelopmentValue(value) => environment.is_local().then_some(value),
            WhenUnset::PerEnvironment { local, deployed } => {
                Some(if environment.is_local() { local } else { deployed })
            }
            WhenUnset::Nothing | WhenUnset::Described(_) => None,
        }
    }
}

/// The value `name` takes when unset in `environment` (see [`EnvVar::default_in`]).
///
/// Panics for a name missing from [`ENV_VARS`]: reading an unlisted variable is a bug, and the
/// unit test that loads a configuration with nothing set finds it.
pub fn default_value(name: &str, environment: Environment) -> Option<&'static str> {
    let var = ENV_VARS.iter().find(|v| v.name == name);
    var.unwrap_or_else(|| panic!("{name} is read but not listed in ENV_VARS")).default_in(environment)
}

const fn var(name: &'static str, kind: EnvKind, default: WhenUnset, description: &'static str) -> EnvVar {
    EnvVar { name, kind, default, description }
}

/// Every variable [`Config::from_lookup`](super::Config::from_lookup) reads (a unit test holds the
/// two together), so the README, `docs/operations.md` and `render.yaml` can be checked against the code.
pub const ENV_VARS: &[EnvVar] = {
    use EnvKind::*;
    use WhenUnset::*;
    &[
        var("ENVIRONMENT", Setting, Value("development"), "development, test, staging or production"),
        var(
            "BIND_ADDRESS",
            Setting,
            PerEnvironment { local: "127.0.0.1", deployed: "0.0.0.0" },
            "the address the service listens on (loopback for a developer's machine, every interface when deployed)",
        ),
        var("PORT", Setting, Value("8005"), "listen port"),
        var(
            "ALLOWED_ORIGINS",
            Setting,
            Nothing,
            "CORS origins and allowed Clerk azp values (comma-separated or JSON array)",
        ),
        var("MAX_BODY_BYTES", Setting, Value("262144"), "request body limit"),
        var("SSE_CONNECTIONS_WARN", Setting, Value("150"), "open streams at which a warning is logged"),
        var("SSE_CONNECTIONS_CRITICAL", Setting, Value("200"), "open streams at which an error is logged"),
        var("SHUTDOWN_GRACE_SECONDS", Setting, Value("5"), "how long streams may finish after SIGTERM"),
        var(
            "HTTP_HEADER_TIMEOUT_SECONDS",
            Setting,
            Value("10"),
            "longest a client may take to send a request's headers (a new connection: from its opening)",
        ),
        var(
            "HTTP_IDLE_TIMEOUT_SECONDS",
            Setting,
            Value("75"),
            "a connection with no request in flight that sends nothing for this long is closed",
        ),
        var("HTTP_MAX_CONNECTIONS", Setting, Value("10000"), "open connections at most; more are closed at once"),
        var(
            "SLOW_CLIENT_TIMEOUT_SECONDS",
            Setting,
            Value("30"),
            "longest a client may leave the service's output unread before it is dropped",
        ),
        var("CONCURRENT_TURNS_PER_USER", Setting, Value("3"), "chat turns one user may have running at once"),
        // Turns that survive (#12): resume, stop, leases and the per-user cap across instances.
        var(
            "REDIS_URL",
            Secret,
            Nothing,
            "Redis (Render Key Value) shared by every instance: turn event logs, stops, leases, the per-user cap; unset: in process (one instance)",
        ),
        var("REDIS_KEY_PREFIX", Setting, Value("amakaflow-chat:"), "the start of every Redis key the service writes"),
        var(
            "TURN_EVENTS_RETENTION_SECONDS",
            Setting,
            Value("600"),
            "how long a turn's events stay resumable (GET /chat/turns/{turn_id}/events) after its last event",
        ),
        var(
            "TURN_LEASE_SECONDS",
            Setting,
            Value("10"),
            "lease of a running turn (renewed every third of it); another instance closes a dead one's turns after it",
        ),
        var(
            "DATABASE_URL",
            Secret,
            Value("sqlite://data/chat.db"),
            "postgres://… (Supabase's connection string) or sqlite:…",
        ),
        var("RUN_MIGRATIONS", Setting, Value("true"), "apply migrations at start-up"),
        var("DATABASE_MAX_CONNECTIONS", Setting, Value("16"), "database pool size"),
        var(
            "STORAGE_PURGE_INTERVAL_SECONDS",
            Setting,
            Value("600"),
            "how often expired plugin state and past hourly rate-limit counters are deleted (0: never)",
        ),
        var("API_KEYS", Secret, Nothing, "key:user_id pairs accepted in X-API-Key (comma-separated)"),
        var(
            "CLERK_DOMAIN",
            Setting,
            Nothing,
            "Clerk Frontend API host; JWKS at https://$CLERK_DOMAIN/.well-known/jwks.json",
        ),
        var("CLERK_ISSUER", Setting, Described("https://$CLERK_DOMAIN"), "expected iss of Clerk tokens"),
        var(
            "JWT_SECRET",
            Secret,
            Described("development default"),
            "HS256 secret of mobile pairing tokens (≥ 32 characters in production)",
        ),
        var("TEST_AUTH_SECRET", DevOnly, Nothing, "enables the X-Test-Auth bypass outside production"),
        var(
            "INTERNAL_API_KEY",
            Secret,
            DevelopmentValue(DEFAULT_INTERNAL_API_KEY),
            "X-Internal-Key for /internal/* only (mapper-api's embeddings calls)",
        ),
        var(
            "ADMIN_API_KEY",
            Secret,
            DevelopmentValue(DEFAULT_ADMIN_API_KEY),
            "X-Admin-Key (or Authorization: Bearer) for /admin/*: installing, removing and rolling back plugins \
             (≥ 32 characters in production, different from every other key)",
        ),
        var(
            "CLERK_JWKS_MIN_REFRESH_SECONDS",
            Setting,
            Value("300"),
            "least time between JWKS fetches caused by unknown key ids",
        ),
        var("HELICONE_ENABLED", Setting, Value("false"), "route Claude calls through Helicone"),
        var("ANTHROPIC_API_KEY", Secret, Nothing, "Anthropic API key"),
        var("ANTHROPIC_BASE_URL", Setting, Value("https://api.anthropic.com"), "Anthropic endpoint"),
        var("DEFAULT_MODEL", Setting, Value("claude-sonnet-4-20250514"), "Claude model id"),
        var("ANTHROPIC_MAX_TOKENS", Setting, Value("4096"), "max_tokens of each Claude call"),
        var("HELICONE_API_KEY", Secret, Nothing, "Helicone key (required when HELICONE_ENABLED=true)"),
        var("HELICONE_BASE_URL", Setting, Value("https://anthropic.helicone.ai"), "Helicone's Anthropic gateway"),
        var(
            "HISTORY_TOKEN_BUDGET",
            Setting,
            Value("30000"),
            "estimated tokens of earlier conversation sent with each call",
        ),
        var(
            "ANTHROPIC_MAX_RETRIES",
            Setting,
            Value("3"),
            "retries of a Claude request that failed before its first byte",
        ),
        var(
            "ANTHROPIC_RETRY_BASE_SECONDS",
            Setting,
            Value("0.5"),
            "first retry backoff (doubled each time, with jitter)",
        ),
        var("ANTHROPIC_STALL_TIMEOUT_SECONDS", Setting, Value("60"), "longest silence tolerated on a Claude stream"),
        // Capacity: HTTP/2 to Anthropic, and the roots its TLS is checked against.
        var(
            "ANTHROPIC_STREAMS_PER_CONNECTION",
            Setting,
            Value("100"),
            "Claude streams sharing one HTTP/2 connection before another is opened",
        ),
        var(
            "EXTRA_CA_CERTS_FILE",
            Setting,
            Nothing,
            "PEM file of root certificates the service's own HTTPS calls trust besides the built-in ones",
        ),
        var("OPENAI_API_KEY", Secret, Nothing, "OpenAI key (embeddings)"),
        var("OPENAI_BASE_URL", Setting, Value("https://api.openai.com"), "OpenAI endpoint"),
        var("EMBEDDING_MODEL", Setting, Value("text-embedding-3-small"), "embedding model"),
        var("EMBEDDING_BATCH_SIZE", Setting, Value("100"), "texts per embeddings request"),
        // The OpenAI fallback, the circuit breaker and the queue of Claude calls (#15).
        var(
            "LLM_FALLBACK",
            Setting,
            Value("openai"),
            "where a turn goes when Anthropic fails before any output: openai (needs OPENAI_API_KEY) or off",
        ),
        var("OPENAI_CHAT_MODEL", Setting, Value("gpt-4o"), "the Chat Completions model of the fallback"),
        var(
            "OPENAI_CHAT_STALL_TIMEOUT_SECONDS",
            Setting,
            Value("60"),
            "longest silence tolerated on a fallback stream",
        ),
        var(
            "LLM_CIRCUIT_FAILURES",
            Setting,
            Value("5"),
            "consecutive failed Claude calls that open the circuit: calls then go straight to the fallback (0: never)",
        ),
        var(
            "LLM_CIRCUIT_COOL_DOWN_SECONDS",
            Setting,
            Value("30"),
            "how long an open circuit skips Anthropic before one trial call",
        ),
        var(
            "ANTHROPIC_MAX_CONCURRENT_CALLS",
            Setting,
            Value("50"),
            "Claude calls in flight at most per instance; more wait in line (with SSE keep-alives)",
        ),
        var(
            "ANTHROPIC_QUEUE_WAIT_SECONDS",
            Setting,
            Value("30"),
            "the longest a Claude call waits in line before it counts as rate limited (and falls back)",
        ),
        var(
            "ANTHROPIC_SHARED_MAX_CALLS",
            Setting,
            Value("100"),
            "Claude calls in flight at most across the instances sharing REDIS_URL (the Anthropic key's concurrency)",
        ),
        var("MAPPER_API_URL", Setting, Value("http://localhost:8001"), "mapper-api base URL"),
        var("CALENDAR_API_URL", Setting, Value("http://localhost:8002"), "calendar-api base URL"),
        var("WORKOUT_INGESTOR_API_URL", Setting, Value("http://localhost:8003"), "workout-ingestor-api base URL"),
        var("STRAVA_SYNC_API_URL", Setting, Value("http://localhost:8000"), "strava-sync-api base URL"),
        var("GARMIN_SYNC_API_URL", Setting, Value("http://localhost:8006"), "garmin-sync-api base URL"),
        var("PLUGINS_DIR", Setting, Value("plugins.d"), "where plugins are loaded from (and watched)"),
        var("FUNCTION_TIMEOUT_SECONDS", Setting, Value("30"), "default wall-clock budget of one tool call"),
        var("PLUGIN_CACHE_DIR", Setting, Described("$PLUGINS_DIR/.cache"), "compiled-plugin cache"),
        var(
            "PLUGIN_SECRETS_KEY",
            Secret,
            DevelopmentValue(DEFAULT_PLUGIN_SECRETS_KEY),
            "the key plugin secrets are encrypted under in the database: 32 random bytes in base64 \
             (openssl rand -base64 32); without it (staging) plugin settings and secrets are off",
        ),
        var("PLUGINS_WATCH", Setting, Value("true"), "watch PLUGINS_DIR and reload changed plugins"),
        var(
            "PLUGIN_POLICY_FILE",
            Setting,
            Described("none: the configured services are trusted, any other public https origin without credentials"),
            "the operator's policy over plugin manifests (TOML: the origins plugins may be granted, with credentials or internal addresses)",
        ),
        var(
            "PLUGIN_MEMORY_BUDGET_BYTES",
            Setting,
            Described("half of the machine's memory (or of its cgroup limit, if smaller)"),
            "linear memory all running tool calls may hold at once (each reserves its plugin's memory limit)",
        ),
        var(
            "PLUGIN_MEMORY_WAIT_MS",
            Setting,
            Value("2000"),
            "how long a tool call waits for room in the memory budget before it is answered busy",
        ),
        var(
            "PLUGIN_MAX_REQUESTS_IN_FLIGHT",
            Setting,
            Value("16"),
            "most outgoing requests in flight a manifest may allow one tool call (max_requests_in_flight)",
        ),
        var("TOOL_HTTP_TIMEOUT_SECONDS", Setting, Value("25"), "per-request timeout of the plugins' downstream calls"),
        var("SYNC_RATE_LIMIT_PER_HOUR", Setting, Value("3"), "Strava/Garmin syncs per user and hour"),
        var(
            "PLUGINS_SYNC_SECONDS",
            Setting,
            Value("10"),
            "how often each instance checks the database for plugins uploaded or rolled back elsewhere (0: never)",
        ),
        var("PLUGIN_STATE_MAX_KEYS", Setting, Value("1000"), "live state keys a plugin may keep per user"),
        var(
            "PLUGIN_STATE_MAX_BYTES",
            Setting,
            Value("8388608"),
            "bytes of state (keys and values) a plugin may keep per user (8 MiB)",
        ),
        var(
            "PLUGIN_COMPILE_TIMEOUT_SECONDS",
            Setting,
            Value("60"),
            "the longest compiling one plugin version may take; past it the load is rejected",
        ),
        var(
            "PLUGIN_SIGNATURES",
            Setting,
            PerEnvironment { local: "warn", deployed: "enforce" },
            "which plugin versions load: enforce (signed by a trusted key only), warn (others load with a warning) or off (refused in production)",
        ),
        var(
            "PLUGIN_TRUSTED_KEYS",
            Setting,
            Nothing,
            "minisign public keys plugin signatures are checked against: base64 keys, comma separated, or a file of them",
        ),
        var(
            "PLUGIN_SIGNING_KEY_FILE",
            Setting,
            Nothing,
            "the minisign secret key `chat-api plugins sign` signs with (the build's secret file; never the service's)",
        ),
        var("RATE_LIMIT_FREE", Setting, Value("50"), "monthly messages of the free tier"),
        var("RATE_LIMIT_PAID", Setting, Value("500"), "monthly messages of the paid tiers"),
        var("SENTRY_DSN", Secret, Nothing, "Sentry DSN (error tracking off when unset)"),
        var("RENDER_GIT_COMMIT", Platform, Nothing, "the deployed commit, reported as the Sentry release"),
        var("SENTRY_TRACES_SAMPLE_RATE", Setting, Value("0.1"), "share of requests traced in Sentry (0 to 1)"),
        var("METRICS_ENABLED", Setting, Value("true"), "record metrics and serve GET /metrics"),
        var(
            "METRICS_TOKEN",
            Secret,
            Nothing,
            "Authorization: Bearer token of GET /metrics (required in production when metrics are enabled; \
             unset in development and test: /metrics is open)",
        ),
        // --- OpenTelemetry traces (telemetry/otel.rs) ---
        var(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            Setting,
            Nothing,
            "OTLP/HTTP collector base URL (traces go to <url>/v1/traces; off when unset)",
        ),
        var(
            "OTEL_EXPORTER_OTLP_HEADERS",
            Secret,
            Nothing,
            "headers of the OTLP requests (key=value,key2=value2: the collector's credentials)",
        ),
        var("OTEL_SERVICE_NAME", Setting, Value("amakaflow-chat"), "service.name of the exported spans"),
        var(
            "OTEL_TRACES_SAMPLER",
            Setting,
            Value("parentbased_always_on"),
            "which traces are recorded: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio",
        ),
        var("OTEL_TRACES_SAMPLER_ARG", Setting, Value("1.0"), "the ratio of the traceidratio samplers (0 to 1)"),
        var("LOG_JSON", Setting, Described("true in production, else false"), "JSON logs"),
        // Read by tracing's `EnvFilter` (telemetry/logs.rs), not by `Config`.
        var(
            "RUST_LOG",
            Setting,
            Value("info,sqlx=warn,wasmtime=warn,cranelift=warn"),
            "log filter (tracing EnvFilter syntax)",
        ),
        // The MCP server at /mcp (issue #13).
        var("MCP_TOOL_CALLS_PER_HOUR", Setting, Value("600"), "MCP tool calls per user and hour (0: no limit)"),
        var(
            "MCP_PROGRESS_SECONDS",
            Setting,
            Value("5"),
            "how often a running MCP tool call reports progress to a client that asked for it",
        ),
    ]
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use super::*;
    use crate::config::{Config, load};

    /// The names `from_lookup` asks for, in development and in production.
    fn names_read() -> BTreeSet<String> {
        let asked = Mutex::new(BTreeSet::new());
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
        let listed: BTreeSet<String> = ENV_VARS.iter().map(|v| v.name.to_string()).collect();
        assert_eq!(listed.len(), ENV_VARS.len(), "a variable is listed twice");
        let read_elsewhere = BTreeSet::from(["RUST_LOG".to_string()]);
        let listed_for_config = listed.difference(&read_elsewhere).cloned().collect();
        assert_eq!(names_read(), listed_for_config, "ENV_VARS and Config::from_lookup disagree");
        for name in PRODUCTION_REQUIRED {
            let var = ENV_VARS.iter().find(|v| v.name == *name).unwrap();
            assert!(var.required_in_production());
            assert_ne!(var.kind, EnvKind::DevOnly, "{name}");
        }
    }

    #[test]
    fn every_default_value_is_valid_in_every_environment() {
        // The reader parses a default exactly like a set value, so an unset variable can never be
        // worse than one an operator set to the documented default.
        for environment in ["development", "test", "staging"] {
            let config = load(&[("ENVIRONMENT", environment)]);
            assert!(config.is_ok(), "{environment}: {config:?}");
        }
        let explicit: Vec<(&str, &str)> = ENV_VARS
            .iter()
            .filter_map(|v| v.default_in(Environment::Development).map(|value| (v.name, value)))
            .collect();
        assert!(load(&explicit).is_ok(), "setting every default explicitly is accepted");
    }

    #[test]
    fn the_development_keys_apply_in_development_and_test_only() {
        for (name, key) in [
            ("INTERNAL_API_KEY", DEFAULT_INTERNAL_API_KEY),
            ("ADMIN_API_KEY", DEFAULT_ADMIN_API_KEY),
            ("PLUGIN_SECRETS_KEY", DEFAULT_PLUGIN_SECRETS_KEY),
        ] {
            assert_eq!(default_value(name, Environment::Development), Some(key));
            assert_eq!(default_value(name, Environment::Test), Some(key));
            assert_eq!(default_value(name, Environment::Staging), None);
            assert_eq!(default_value(name, Environment::Production), None);
        }
        assert_eq!(default_value("METRICS_TOKEN", Environment::Development), None);
    }

    #[test]
    fn the_service_listens_on_loopback_unless_deployed() {
        assert_eq!(default_value("BIND_ADDRESS", Environment::Development), Some("127.0.0.1"));
        assert_eq!(default_value("BIND_ADDRESS", Environment::Test), Some("127.0.0.1"));
        assert_eq!(default_value("BIND_ADDRESS", Environment::Staging), Some("0.0.0.0"));
        assert_eq!(default_value("BIND_ADDRESS", Environment::Production), Some("0.0.0.0"));
    }
}
