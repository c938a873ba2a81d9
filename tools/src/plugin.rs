//! One loaded version of a plugin: its manifest, its pre-instantiated component and its validated
//! functions. Immutable once built; the registry swaps whole versions, and a call holds an `Arc` to
//! the version it started on, which keeps that version alive until the call ends.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::bindings::ToolPre;
use crate::egress::EgressPolicy;
use crate::instance::CallState;
use crate::manifest::Manifest;
use crate::signing::SignatureStatus;
use crate::stats::PluginStats;

/// A plugin version ready to serve calls.
pub struct LoadedPlugin {
    /// `Arc<str>` because every call's store carries it.
    pub name: Arc<str>,
    pub manifest: Manifest,
    pub egress: Arc<EgressPolicy>,
    pub config: Arc<BTreeMap<String, String>>,
    /// The directory it was loaded from.
    pub dir: PathBuf,
    /// Hex sha256 of `plugin.wasm`.
    pub sha256: String,
    /// Hex sha256 of `plugin.toml` (with the wasm's, what decides whether a file change is a change).
    pub manifest_sha256: String,
    /// What its signature proved.
    pub signature: SignatureStatus,
    /// The text of its `plugin.sig` (with the hashes, what decides whether a change is a change).
    pub signature_file: Option<String>,
    pub loaded_at: DateTime<Utc>,
    pub load_time: Duration,
    /// Whether the compiled artifact came from the on-disk cache.
    pub from_cache: bool,
    pub pre: ToolPre<CallState>,
    pub functions: Vec<LoadedFunction>,
    /// `max_concurrent_calls` permits of this version.
    pub permits: Arc<Semaphore>,
    pub stats: Arc<PluginStats>,
}

/// One function of a loaded plugin.
pub struct LoadedFunction {
    pub name: Arc<str>,
    pub description: String,
    pub schema: Value,
    pub validator: jsonschema::Validator,
}

impl std::fmt::Debug for LoadedFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedFunction").field("name", &self.name).field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl LoadedFunction {
    /// Checks arguments against the schema; the error lists what is wrong (at most 5 problems).
    pub fn validate(&self, arguments: &Value) -> Result<(), String> {
        if self.validator.is_valid(arguments) {
            return Ok(());
        }
        let problems: Vec<String> = self
            .validator
            .iter_errors(arguments)
            .take(5)
            .map(|err| {
                let path = err.instance_path().to_string();
                if path.is_empty() { err.to_string() } else { format!("{path}: {err}") }
            })
            .collect();
        Err(problems.join("; "))
    }
}

impl LoadedPlugin {
    /// The index of `function` in [`LoadedPlugin::functions`].
    pub fn function_index(&self, function: &str) -> Option<usize> {
        self.functions.iter().position(|f| &*f.name == function)
    }
}
