//! The assembled service: shared state, the router, and the serve loop with graceful shutdown.
//! `main` and the end-to-end tests build it the same way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chat_store::{Store, StoreOptions};
use tokio::net::TcpListener;
use tool_host::{Registry, RuntimeConfig};

use crate::auth::Authenticator;
use crate::chat::turn::TurnDeps;
use crate::config::Config;
use crate::embeddings::Embeddings;
use crate::llm::AnthropicClient;
use crate::shutdown::Shutdown;
use crate::streams::StreamTracker;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub auth: Arc<Authenticator>,
    pub tools: Arc<Registry>,
    pub llm: Arc<AnthropicClient>,
    pub http: reqwest::Client,
    pub shutdown: Shutdown,
    pub streams: StreamTracker,
    pub embeddings: Embeddings,
}

impl AppState {
    pub fn tools_ready(&self) -> bool {
        self.tools.is_ready()
    }

    /// What a chat turn needs.
    pub fn turn_deps(&self) -> TurnDeps {
        TurnDeps {
            config: self.config.clone(),
            store: self.store.clone(),
            llm: self.llm.clone(),
            tools: self.tools.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
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
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("amakaflow-chat/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let auth = Authenticator::new(&config.auth, config.environment, &config.server.allowed_origins, http.clone());
        let _runtime = RuntimeConfig {
            plugins_dir: config.plugins.dir.clone(),
            cache_dir: config.plugins.cache_dir.clone(),
            default_timeout: config.plugins.function_timeout,
            env: config.plugin_env(),
            watch: config.plugins.watch,
        };
        let tools = Registry::empty();
        let embeddings = Embeddings::new(store.clone(), http.clone(), &config.openai);
        let llm = Arc::new(AnthropicClient::new(&config.anthropic, config.environment.as_str(), http.clone()));
        let state = AppState {
            llm,
            streams: StreamTracker::new(config.server.sse_warn_connections, config.server.sse_critical_connections),
            config,
            store,
            auth,
            tools,
            http,
            shutdown: Shutdown::new(),
            embeddings,
        };
        Ok(App { state })
    }

    /// Serves on `listener` until shutdown: on [`Shutdown::begin`] it stops accepting, lets open
    /// streams run until the grace deadline, then returns once connections are closed.
    pub async fn serve(self, listener: TcpListener) -> anyhow::Result<()> {
        let state = self.state.clone();
        let router = crate::api::router(self.state);
        let shutdown = state.shutdown.clone();
        let serve = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move { shutdown.draining().await });
        // Connections that outlive the grace period (a stuck client) do not keep the process alive.
        let hard_stop = {
            let shutdown = state.shutdown.clone();
            async move {
                shutdown.deadline().await;
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        };
        tokio::select! {
            result = serve => result.context("serving HTTP")?,
            _ = hard_stop => tracing::warn!("connections still open after the shutdown deadline; closing"),
        }
        state.store.close().await;
        Ok(())
    }

    /// Binds `addr` and serves; resolves with the bound address (for port 0) through `on_bound`.
    pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
        TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))
    }
}
