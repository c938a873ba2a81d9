//! The `amakaflow:tool/host` interface: what a plugin may ask of the host, one module per
//! capability. Everything is scoped to the calling plugin and the user of the current call (see
//! [`HostCtx`]); a plugin can never reach another plugin's or another user's data. While a plugin
//! is being described (at load time) there is no user: only `config` and `log` work, the rest
//! fail the load.

pub mod config;
pub mod flags;
pub mod index;
pub mod log;
pub mod rate_limit;
pub mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::bindings::host::{Host, LogLevel, RateLimitDecision, WorkoutMatch};
use crate::services::HostServices;

/// Who is asking, for every capability call of one store.
pub struct HostCtx {
    pub plugin: Arc<str>,
    pub function: Arc<str>,
    /// `None` while describing: user-scoped capabilities are unavailable.
    pub user_id: Option<String>,
    pub request_id: String,
    pub config: Arc<BTreeMap<String, String>>,
    pub services: Arc<HostServices>,
    /// The most state the plugin may keep for the user (its manifest's limits).
    pub state_quota: store::StateQuota,
    /// Log lines written by this call so far (capped).
    pub log_lines: u32,
}

/// A host service failed, or a capability was used where it is unavailable: the call is aborted
/// and reported as `host_error` (the guest cannot tell a lost write from a missing value).
#[derive(Debug, thiserror::Error)]
#[error("host capability {capability}: {message}")]
pub struct HostServiceError {
    pub capability: &'static str,
    pub message: String,
}

impl HostCtx {
    /// The calling user, or an error while describing.
    fn user(&self, capability: &'static str) -> wasmtime::Result<&str> {
        self.user_id.as_deref().ok_or_else(|| {
            wasmtime::Error::new(HostServiceError {
                capability,
                message: "not available while the plugin is described".into(),
            })
        })
    }

    fn store(&self, capability: &'static str) -> wasmtime::Result<&store::Store> {
        self.services.store.as_ref().ok_or_else(|| {
            wasmtime::Error::new(HostServiceError { capability, message: "no database is configured".into() })
        })
    }
}

/// Turns a storage failure into the trap that aborts the call (the cause goes to the log only).
fn service_failed(capability: &'static str, err: impl std::fmt::Display) -> wasmtime::Error {
    tracing::error!(capability, error = %err, "host service failed during a tool call");
    wasmtime::Error::new(HostServiceError { capability, message: err.to_string() })
}

impl Host for HostCtx {
    async fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        log::write(self, level, &message);
        Ok(())
    }

    async fn config(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(config::get(self, &key))
    }

    async fn state_get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        state::get(self, &key).await
    }

    async fn state_put(
        &mut self,
        key: String,
        value: String,
        ttl_seconds: u32,
    ) -> wasmtime::Result<Result<(), String>> {
        state::put(self, &key, &value, ttl_seconds).await
    }

    async fn state_take(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        state::take(self, &key).await
    }

    async fn state_delete(&mut self, key: String) -> wasmtime::Result<()> {
        state::delete(self, &key).await
    }

    async fn rate_limit_hour(&mut self, bucket: String, limit_per_hour: u32) -> wasmtime::Result<RateLimitDecision> {
        rate_limit::hour(self, &bucket, limit_per_hour).await
    }

    async fn feature_flag(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        flags::get(self, &key).await
    }

    async fn search_workouts(
        &mut self,
        query_embedding: Vec<f32>,
        limit: u32,
        min_similarity: f32,
    ) -> wasmtime::Result<Result<Vec<WorkoutMatch>, String>> {
        index::search(self, &query_embedding, limit, min_similarity).await
    }

    async fn indexed_workout_count(&mut self) -> wasmtime::Result<u32> {
        index::count(self).await
    }
}
