//! The state the handlers share, one field per service. Handlers take only the part they use
//! (`State<Store>`, `State<Arc<Registry>>`, …) through axum's `FromRef`, so a handler's signature says
//! what it touches; extractors do the same ([`super::extract`]).

use std::sync::Arc;

use axum::extract::FromRef;
use store::Store;
use tokio_util::task::TaskTracker;
use tools::Registry;

use super::sse_connections::SseConnections;
use crate::auth::Authenticator;
use crate::chat::turn::TurnDeps;
use crate::config::Config;
use crate::embeddings::Embeddings;
use crate::shutdown::Shutdown;

/// Everything a handler may need; cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub auth: Arc<Authenticator>,
    pub tools: Arc<Registry>,
    pub embeddings: Embeddings,
    pub shutdown: Shutdown,
    /// Open SSE responses, counted for the runbook's thresholds.
    pub sse_connections: SseConnections,
    /// What a chat turn runs with.
    pub turn_deps: TurnDeps,
    /// Running chat turns. They outlive their connections, so shutdown waits for them (not only for
    /// open connections) before closing the database.
    pub turns: TaskTracker,
}
