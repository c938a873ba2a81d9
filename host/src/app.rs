//! The assembled service: the shared clients and services wired into the API's state, and the
//! serving of it (the HTTP server of [`crate::server`] with the API's router) with graceful
//! shutdown. `main` and the end-to-end tests build it the same way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use store::{Store, StoreOptions};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use tools::{HostServices, Registry, RuntimeConfig};

use crate::api::AppState;
use crate::api::sse_connections::SseConnections;
use crate::auth::Authenticator;
use crate::chat::catalog::ToolCatalog;
use crate::chat::turn::TurnDeps;
use crate::config::Config;
use crate::embeddings::Embeddings;
use crate::http_client::HttpClients;
use crate::live::Live;
use crate::llm::{AnthropicClient, ClientOptions, ConnectionLanes, LlmRouter, RetryPolicy};
use crate::server::ServerLimits;
use crate::shutdown::Shutdown;

/// The tool runtime's settings: `PLUGINS_DIR`, `PLUGIN_CACHE_DIR`, `FUNCTION_TIMEOUT_SECONDS`,
/// `PLUGINS_WATCH`, `PLUGINS_SYNC_SECONDS`, `PLUGIN_STATE_MAX_*`, `PLUGIN_COMPILE_TIMEOUT_SECONDS`,
/// `PLUGIN_SECRETS_KEY`, `PLUGIN_MEMORY_BUDGET_BYTES`, `PLUGIN_MEMORY_WAIT_MS`,
/// `PLUGIN_MAX_REQUESTS_IN_FLIGHT`, the operator's policy and the defaults of the values manifests
/// interpolate.
pub fn runtime_config(config: &Config) -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: config.plugins.cache_dir.clone(),
        default_timeout: config.plugins.function_timeout,
        defaults: config.plugin_value_defaults(),
        secrets_key: config.plugin_secrets_key(),
        policy: config.plugins.policy.clone(),
        watch: config.plugins.watch,
        database_poll_interval: config.plugins.database_poll_interval,
        state_max_keys: config.plugins.state_max_keys,
        state_max_bytes: config.plugins.state_max_bytes,
        compile_timeout: config.plugins.compile_timeout,
        signatures: config.plugins.signatures.clone(),
        memory_budget_bytes: config.plugins.memory_budget_bytes,
        memory_wait: config.plugins.memory_wait,
        max_requests_in_flight: config.plugins.max_requests_in_flight,
        trace_context: crate::telemetry::otel::egress_hook(config),
        ..RuntimeConfig::new(config.plugins.dir.clone())
    }
}

/// Anthropic's connections: `ANTHROPIC_STREAMS_PER_CONNECTION` streams to each (HTTP/2).
fn anthropic_lanes(config: &Config, clients: &HttpClients) -> anyhow::Result<ConnectionLanes> {
    let clients = clients.clone();
    let first = clients.build()?;
    Ok(ConnectionLanes::new(config.upstream.anthropic_streams_per_connection, first, move || clients.build()))
}

/// The built service, not yet listening.
pub struct App {
    pub state: AppState,
}

impl App {
    /// Connects the database (running migrations unless disabled), loads the plugins and builds the
    /// shared clients.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let config = Arc::new(config);
        let store = Store::connect(&StoreOptions {
            url: config.database.url.clone(),
            max_connections: config.database.max_connections,
            run_migrations: config.database.run_migrations,
            schema: None,
        })
        .await
        .context("opening the database (DATABASE_URL)")?;
        App::with_store(config, store).await
    }

    /// Like [`App::build`] with a store the caller opened (tests use an isolated schema).
    pub async fn with_store(config: Arc<Config>, store: Store) -> anyhow::Result<App> {
        if config.telemetry.metrics_enabled {
            // Installed before anything is counted (plugin loads included).
            crate::telemetry::metrics::install(&config.telemetry);
        }
        let clients = HttpClients::load(&config.upstream)?;
        let http = clients.build()?;
        let auth = Authenticator::new(&config.auth, config.environment, &config.server.allowed_origins, http.clone());
        // The tool set loads in the background; `/health/ready` reports "loading" until it is done.
        let embeddings = Embeddings::new(store.clone(), http.clone(), &config.openai);
        // Cutover: on the original Supabase schema the search runs in Postgres with pgvector.
        if embeddings.index.detect().await.context("detecting pgvector on the workouts table")? {
            tracing::info!("workout search: pgvector over workouts.embedding (the shared table)");
        }
        // The plugins' `search-workouts` host call searches the embeddings index.
        let services = HostServices::new(store.clone()).with_index(embeddings.index.clone());
        let tools = Registry::start(runtime_config(&config), services).context("starting the tool runtime")?;
        let anthropic = Arc::new(
            AnthropicClient::new(&config.anthropic, config.environment.as_str(), http.clone())
                .with_options(ClientOptions {
                    retry: RetryPolicy {
                        max_retries: config.anthropic.max_retries,
                        base_delay: config.anthropic.retry_base,
                        ..RetryPolicy::default()
                    },
                    stall_timeout: config.anthropic.stall_timeout,
                })
                .with_lanes(anthropic_lanes(&config, &clients)?),
        );
        let llm = Arc::new(LlmRouter::from_config(&config, anthropic, http.clone()));
        let shutdown = Shutdown::new();
        crate::storage_purge::start(store.clone(), config.database.purge_interval, shutdown.clone());
        // Turns that survive (#12): event logs, stops, leases and the per-user cap (Redis or in process).
        let live = Live::new(&config.turns, config.server.concurrent_turns_per_user).context("REDIS_URL")?;
        live.stops.listen(shutdown.clone());
        crate::chat::turn_recovery::start(
            live.clone(),
            store.clone(),
            config.anthropic.model.clone(),
            shutdown.clone(),
        );
        let turn_deps = TurnDeps {
            config: config.clone(),
            store: store.clone(),
            llm,
            tools: tools.clone(),
            catalog: Arc::new(ToolCatalog::default()),
            shutdown: shutdown.clone(),
            live,
        };
        let state = AppState {
            sse_connections: SseConnections::new(
                config.server.sse_warn_connections,
                config.server.sse_critical_connections,
            ),
            config,
            store,
            auth,
            tools,
            embeddings,
            shutdown,
            turn_deps,
            turns: TaskTracker::new(),
        };
        Ok(App { state })
    }

    /// Serves on `listener` until shutdown: on [`Shutdown::begin`] it stops accepting, lets open
    /// streams run until the grace deadline, then returns once connections are closed.
    pub async fn serve(self, listener: TcpListener) -> anyhow::Result<()> {
        let state = self.state.clone();
        let router = crate::api::router(self.state);
        let shutdown = state.shutdown.clone();
        let serve = crate::server::serve(listener, router, ServerLimits::of(&state.config.server), shutdown);
        // Connections that outlive the grace period (a stuck client) do not keep the process alive.
        let hard_stop = {
            let shutdown = state.shutdown.clone();
            async move {
                shutdown.deadline().await;
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        };
        tokio::select! {
            () = serve => {}
            _ = hard_stop => tracing::warn!("connections still open after the shutdown deadline; closing"),
        }
        state.turns.close();
        if tokio::time::timeout(Duration::from_secs(5), state.turns.wait()).await.is_err() {
            tracing::warn!(running = state.turns.len(), "chat turns still running at exit");
        }
        state.store.close().await;
        Ok(())
    }

    /// Binds `addr` (port 0 picks a free port; the listener knows which).
    pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
        TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))
    }
}
