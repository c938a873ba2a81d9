//! The world tool tests, benchmarks and the dev stack share: the six service plugins of this
//! repository (`make plugins`) in a temporary `PLUGINS_DIR`, loaded by the real runtime over a test
//! database, with the embeddings index behind the host's workout search and a stand-in for each
//! service the plugins call (mapper, calendar, ingestor, Strava, Garmin, OpenAI), whose URLs the
//! manifests interpolate.

use std::sync::Arc;
use std::time::Duration;

use host::embeddings::{Embeddings, EmbeddingsClient, IndexOptions, RetryPolicy};
use serde_json::{Value, json};
use store::Backend;
use store::testing::TestDatabase;
use tools::{Caller, HostServices, PluginPolicy, Registry, RuntimeConfig, ToolCall, ToolOutcome};

use crate::plugins::PluginsDir;
use stand_ins::downstream::{Downstream, Service};
use stand_ins::openai::OpenAiStandIn;

/// The plugins of the service.
pub const PLUGINS: [&str; 6] = ["mapper", "calendar", "workout-ingestor", "embedding-search", "navigation", "sync"];

/// Which implementation of the two tools ported to other languages a world loads: the Rust plugins
/// (what production serves) or the ports kept as examples (`plugins/examples`: `get_calendar_events`
/// in Python, `navigate_to_page` in JavaScript). The tool suites run the ported tools' tests on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ports {
    Rust,
    PythonAndJs,
}

impl Ports {
    /// The plugins of the world: the Python and JavaScript ports stand in for the calendar and
    /// navigation plugins (so the calendar's other three tools are absent there).
    pub fn plugins(self) -> Vec<&'static str> {
        PLUGINS
            .iter()
            .map(|plugin| match (self, *plugin) {
                (Ports::PythonAndJs, "calendar") => "calendar-events-py",
                (Ports::PythonAndJs, "navigation") => "navigation-js",
                (_, plugin) => plugin,
            })
            .collect()
    }
}

/// The user most tests call as, and the bearer token the host forwards for them.
pub const USER: &str = "user-1";
pub const OTHER_USER: &str = "user-2";

pub fn token(user: &str) -> String {
    format!("Bearer token-of-{user}")
}

/// How long the plugins wait for a service (`TOOL_HTTP_TIMEOUT_SECONDS`) and how long one whole
/// call may take: chosen so that neither races the other, nor the speed of the machine.
#[derive(Clone, Copy, Debug)]
pub struct Patience {
    http_timeout_seconds: u64,
    call_budget: Duration,
}

impl Patience {
    /// For services that answer: limits no loaded machine comes near (a 10 MB upload included).
    pub const ANSWERING_SERVICES: Patience =
        Patience { http_timeout_seconds: 30, call_budget: Duration::from_secs(60) };

    /// For services that never answer (a stand-in holding its answer for good): a short HTTP
    /// timeout, so that the timeout tests are quick, and a call budget fifteen times what the
    /// slowest tool's requests add up to (saving a program sends eight, one after another).
    pub const SILENT_SERVICES: Patience = Patience { http_timeout_seconds: 1, call_budget: Duration::from_secs(120) };
}

/// Compiled plugins are cached here across tests (keyed by the wasm's hash, so never stale).
fn cache_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("amakaflow-tools-suite-cache")
}

/// The running world.
pub struct ToolWorld {
    pub registry: Arc<Registry>,
    pub db: TestDatabase,
    pub mapper: Downstream,
    pub calendar: Downstream,
    pub ingestor: Downstream,
    pub strava: Downstream,
    pub garmin: Downstream,
    pub openai: OpenAiStandIn,
    pub embeddings: Embeddings,
    _plugins: PluginsDir,
}

impl ToolWorld {
    /// On SQLite.
    pub async fn start() -> ToolWorld {
        ToolWorld::start_on(Backend::Sqlite).await
    }

    pub async fn start_on(backend: Backend) -> ToolWorld {
        ToolWorld::start_with(backend, Patience::ANSWERING_SERVICES).await
    }

    pub async fn start_with(backend: Backend, patience: Patience) -> ToolWorld {
        ToolWorld::start_ports(backend, patience, Ports::Rust).await
    }

    /// With the ported tools in the language `ports` says.
    pub async fn start_ports(backend: Backend, patience: Patience, ports: Ports) -> ToolWorld {
        let db = TestDatabase::new(backend).await.expect("a test database");
        ToolWorld::start_over_with(db, patience, ports).await
    }

    /// Over a database the caller made (the cutover suite's copy of the original Supabase schema).
    pub async fn start_over(db: TestDatabase, patience: Patience) -> ToolWorld {
        ToolWorld::start_over_with(db, patience, Ports::Rust).await
    }

    async fn start_over_with(db: TestDatabase, patience: Patience, ports: Ports) -> ToolWorld {
        let plugins = PluginsDir::new();
        for plugin in ports.plugins() {
            plugins.add(plugin);
        }
        let (mapper, calendar, ingestor, strava, garmin, openai) = (
            Downstream::start(Service::Mapper).await,
            Downstream::start(Service::Calendar).await,
            Downstream::start(Service::Ingestor).await,
            Downstream::start(Service::Strava).await,
            Downstream::start(Service::Garmin).await,
            OpenAiStandIn::start().await,
        );
        // The defaults the service gives manifests (its runbook variables and OpenAI key).
        let mut defaults = tools::PluginValues {
            settings: [&mapper, &calendar, &ingestor, &strava, &garmin]
                .iter()
                .map(|d| (d.service().env_var().to_string(), d.url()))
                .collect(),
            ..tools::PluginValues::default()
        };
        defaults.settings.extend([
            ("OPENAI_BASE_URL".to_string(), openai.url()),
            ("EMBEDDING_MODEL".to_string(), "text-embedding-3-small".to_string()),
            ("TOOL_HTTP_TIMEOUT_SECONDS".to_string(), patience.http_timeout_seconds.to_string()),
        ]);
        defaults.secrets.insert("OPENAI_API_KEY".to_string(), openai.api_key());
        defaults.secret_origins.insert("OPENAI_API_KEY".to_string(), openai.url());

        let openai_config = host::config::OpenAiConfig {
            api_key: Some(openai.api_key().into()),
            base_url: openai.url(),
            embedding_model: "text-embedding-3-small".to_string(),
            embedding_batch_size: 100,
        };
        let retry = RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            request_timeout: Duration::from_secs(5),
        };
        let client = EmbeddingsClient::new(reqwest::Client::new(), &openai_config).with_retry(retry);
        let embeddings = Embeddings::with_client(db.store.clone(), client, IndexOptions::default());

        let mut config = RuntimeConfig::new(plugins.path());
        config.cache_dir = cache_dir();
        // The Python and JavaScript ports carry their interpreter: their first compile may take
        // minutes on a loaded machine (the suites test calls, not compile limits).
        config.compile_timeout = Duration::from_secs(900);
        config.default_timeout = patience.call_budget;
        config.max_concurrent_calls = 64;
        config.defaults = defaults;
        // As a development host derives it from the same URLs: the stand-ins live on loopback.
        let service_urls = [&mapper, &calendar, &ingestor, &strava, &garmin].map(|d| d.url());
        let openai_url = openai.url();
        config.policy = PluginPolicy::configured(service_urls.iter().map(String::as_str), [openai_url.as_str()], true);
        let services = HostServices::new(db.store.clone()).with_index(embeddings.index.clone());
        let registry = Registry::load(config, services).await.expect("loading the service's plugins");
        ToolWorld { registry, db, mapper, calendar, ingestor, strava, garmin, openai, embeddings, _plugins: plugins }
    }

    /// The stand-ins of the downstream services.
    pub fn services(&self) -> [&Downstream; 5] {
        [&self.mapper, &self.calendar, &self.ingestor, &self.strava, &self.garmin]
    }

    /// Every request any downstream stand-in received.
    pub fn downstream_requests(&self) -> usize {
        self.services().iter().map(|s| s.requests().len()).sum()
    }

    pub async fn call_as(&self, user: &str, function: &str, arguments: Value) -> ToolOutcome {
        self.registry.call(tool_call(user, function, arguments, Some(token(user)))).await
    }

    pub async fn call(&self, function: &str, arguments: Value) -> ToolOutcome {
        self.call_as(USER, function, arguments).await
    }

    /// The result text of a call by [`USER`] that must succeed (panics otherwise).
    pub async fn ok(&self, function: &str, arguments: Value) -> String {
        expect_ok(&self.call(function, arguments).await, function)
    }

    /// The message of a call by [`USER`] that must fail with `code` (panics otherwise).
    pub async fn fails(&self, function: &str, arguments: Value, code: &str) -> String {
        expect_error(&self.call(function, arguments).await, function, code)
    }

    /// Enables `garmin_sync` in `user`'s `chat_functions_enabled` flag.
    pub async fn enable_garmin(&self, user: &str) {
        self.db
            .store
            .set_feature_flag(
                "chat_functions_enabled",
                store::flags::FlagScope::User(user),
                json!(["search_workouts", "garmin_sync"]),
            )
            .await
            .expect("setting a flag");
    }
}

/// The result text of a call that must have succeeded (panics otherwise).
pub fn expect_ok(outcome: &ToolOutcome, function: &str) -> String {
    match &outcome.result {
        Ok(text) => text.clone(),
        Err(err) => panic!("{function} failed: {err:?}"),
    }
}

/// The message of a call that must have failed with `code` (panics otherwise). Also checks that
/// the host hands the model the original error shape.
pub fn expect_error(outcome: &ToolOutcome, function: &str, code: &str) -> String {
    match &outcome.result {
        Err(err) if err.code == code => {
            let shown: Value = serde_json::from_str(&outcome.result_text()).expect("error JSON");
            assert_eq!(shown, json!({"error": true, "code": code, "message": err.message}));
            err.message.clone()
        }
        other => panic!("{function}: expected {code}, got {other:?}"),
    }
}

/// A call of `function` by `user` in the suites' fixed session and request.
pub fn tool_call(user: &str, function: &str, arguments: Value, authorization: Option<String>) -> ToolCall {
    ToolCall {
        function: function.to_string(),
        arguments,
        caller: Caller {
            user_id: user.to_string(),
            session_id: Some("session-1".to_string()),
            request_id: "request-1".to_string(),
            authorization,
            via: Default::default(),
        },
    }
}
