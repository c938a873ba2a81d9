//! Loading one plugin version: read `plugin.toml`, `plugin.wasm` and `plugin.sig` → check the
//! signature over these very bytes ([`crate::signing`]) → parse the manifest → check it against the
//! operator's policy → verify the sha256 pin → check its memory against its limit and the host's
//! budget → compile (or fetch from the artifact cache) off the async threads → pre-instantiate,
//! which type-checks the component against the host (a component of another
//! world fails here) → `describe` in a throwaway store → validate the names and schemas. The
//! first failing step rejects the version with its reason; nothing is swapped in by this module
//! (uniqueness across plugins is the registry's check).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::bindings::ToolPre;
use crate::engine::Runtime;
use crate::initial_memory::initial_memory_bytes;
use crate::manifest::{Manifest, ManifestContext};
use crate::outcome::bytes;
use crate::plugin::LoadedPlugin;
use crate::signing::SIGNATURE_FILE;
use crate::stats::PluginStats;

pub const MANIFEST_FILE: &str = "plugin.toml";
pub const WASM_FILE: &str = "plugin.wasm";
/// The largest `plugin.toml`, wherever a version comes from (a directory, an upload, the database).
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;
/// The largest `plugin.wasm`, likewise.
pub const MAX_WASM_BYTES: usize = 64 << 20;

/// Why a version whose parts have these sizes is refused, if one is over its cap.
pub fn oversized(manifest_len: u64, wasm_len: u64) -> Option<String> {
    over_cap(MANIFEST_FILE, manifest_len, MAX_MANIFEST_BYTES).or_else(|| over_cap(WASM_FILE, wasm_len, MAX_WASM_BYTES))
}

/// Why a part of `len` bytes is refused, if it is over its cap `max` (`file`: how to name it).
fn over_cap(file: &str, len: u64, max: usize) -> Option<String> {
    (len > max as u64).then(|| format!("{file} is larger than {max} bytes"))
}
/// The largest `plugin.sig` (a minisign signature is a few hundred bytes).
const MAX_SIGNATURE_BYTES: usize = 4 * 1024;

/// The step a load failed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadStage {
    /// The files could not be read.
    Read,
    /// No valid signature by a trusted key under `PLUGIN_SIGNATURES=enforce`, or a replayed older version.
    Signature,
    /// `plugin.toml` is invalid.
    Manifest,
    /// The manifest asks for more than the operator's policy allows.
    Policy,
    /// `plugin.wasm` does not have the pinned sha256.
    Pin,
    /// Not a valid WebAssembly component.
    Compile,
    /// Not a component of the `amakaflow:tool/tool` world, or it imports what the host does not offer.
    Link,
    /// `describe` failed.
    Describe,
    /// A name or a schema is invalid.
    Schema,
    /// It clashes with another plugin (plugin or function names).
    Conflict,
}

/// Why a plugin version was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{} failed: {message}", stage.as_str())]
pub struct LoadError {
    pub stage: LoadStage,
    pub message: String,
}

impl LoadStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadStage::Read => "read",
            LoadStage::Signature => "signature",
            LoadStage::Manifest => "manifest",
            LoadStage::Policy => "policy",
            LoadStage::Pin => "pin",
            LoadStage::Compile => "compile",
            LoadStage::Link => "link",
            LoadStage::Describe => "describe",
            LoadStage::Schema => "schema",
            LoadStage::Conflict => "conflict",
        }
    }
}

impl LoadError {
    pub fn new(stage: LoadStage, message: impl Into<String>) -> LoadError {
        LoadError { stage, message: message.into() }
    }
}

/// The files of one plugin version.
#[derive(Clone)]
pub struct Source {
    pub dir: PathBuf,
    pub manifest_text: String,
    pub wasm: Arc<Vec<u8>>,
    pub sha256: String,
    pub manifest_sha256: String,
    /// The text of `plugin.sig`, if the version has one.
    pub signature: Option<String>,
}

impl Source {
    /// Reads `dir/plugin.toml`, `dir/plugin.wasm` and, if present, `dir/plugin.sig` (blocking).
    pub fn read(dir: &Path) -> Result<Source, LoadError> {
        let manifest_text = read_limited(&dir.join(MANIFEST_FILE), MAX_MANIFEST_BYTES)?;
        let manifest_text = String::from_utf8(manifest_text)
            .map_err(|_| LoadError::new(LoadStage::Manifest, format!("{MANIFEST_FILE} is not UTF-8")))?;
        let wasm = read_limited(&dir.join(WASM_FILE), MAX_WASM_BYTES)?;
        let signature_path = dir.join(SIGNATURE_FILE);
        let signature = match signature_path.exists() {
            true => Some(String::from_utf8_lossy(&read_limited(&signature_path, MAX_SIGNATURE_BYTES)?).into_owned()),
            false => None,
        };
        Ok(Source::new(dir.to_path_buf(), manifest_text, wasm, signature))
    }

    pub fn new(dir: PathBuf, manifest_text: String, wasm: Vec<u8>, signature: Option<String>) -> Source {
        Source {
            signature,
            dir,
            manifest_sha256: hex::encode(Sha256::digest(manifest_text.as_bytes())),
            sha256: hex::encode(Sha256::digest(&wasm)),
            manifest_text,
            wasm: Arc::new(wasm),
        }
    }
}

fn read_limited(path: &Path, max: usize) -> Result<Vec<u8>, LoadError> {
    let unreadable = |err: std::io::Error| LoadError::new(LoadStage::Read, format!("{}: {err}", path.display()));
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if let Some(too_large) = over_cap(&path.display().to_string(), size, max) {
        return Err(LoadError::new(LoadStage::Read, too_large));
    }
    std::fs::read(path).map_err(unreadable)
}

/// The `name` of a manifest that may be invalid otherwise (to attribute a rejection).
pub fn peek_name(manifest_text: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(manifest_text).ok()?;
    table.get("name")?.as_str().map(str::to_string)
}

/// Parses a manifest with the plugins' stored values, the host's defaults and the runtime's limits.
pub fn parse_manifest(runtime: &Runtime, text: &str) -> Result<Manifest, LoadError> {
    let config = &runtime.config;
    let stored = runtime.values.load();
    let cx = ManifestContext {
        stored: &stored.by_plugin,
        defaults: &config.defaults,
        default_timeout: config.default_timeout,
        max_memory_bytes: config.max_memory_bytes,
        max_concurrent_calls: config.max_concurrent_calls,
        max_state_keys: config.state_max_keys,
        max_state_bytes: config.state_max_bytes,
        max_requests_in_flight: config.max_requests_in_flight,
    };
    Manifest::parse(text, &cx).map_err(|err| LoadError::new(LoadStage::Manifest, err.0))
}

/// Refuses a plugin no call of which could ever run: its memory limit is more than the memory
/// budget of all running calls, or its core modules start with more memory than its limit.
fn check_memory(runtime: &Runtime, manifest: &Manifest, wasm: &[u8]) -> Result<(), LoadError> {
    let limit = manifest.limits.memory_bytes;
    if !runtime.memory.fits(limit) {
        return Err(LoadError::new(
            LoadStage::Manifest,
            format!(
                "limits.memory_bytes: {} is more than the memory budget of all running calls ({}, PLUGIN_MEMORY_BUDGET_BYTES)",
                bytes(limit),
                bytes(runtime.memory.bytes())
            ),
        ));
    }
    let initial = initial_memory_bytes(wasm).map_err(|err| LoadError::new(LoadStage::Compile, err))?;
    if initial > limit {
        return Err(LoadError::new(
            LoadStage::Compile,
            format!(
                "the component's initial memory is {}, more than the plugin's memory limit of {} (limits.memory_bytes)",
                bytes(initial),
                bytes(limit)
            ),
        ));
    }
    Ok(())
}

/// Runs every load step on `source`.
pub async fn load(runtime: &Arc<Runtime>, source: Source, stats: Arc<PluginStats>) -> Result<LoadedPlugin, LoadError> {
    let started = Instant::now();
    let name = peek_name(&source.manifest_text).unwrap_or_else(|| source.dir.display().to_string());
    let signature = crate::signing::check(
        &runtime.config.signatures,
        &name,
        &source.sha256,
        &source.manifest_sha256,
        source.signature.as_deref(),
    )
    .map_err(|reason| LoadError::new(LoadStage::Signature, reason))?;
    let mut manifest = parse_manifest(runtime, &source.manifest_text)?;
    runtime.config.policy.apply(&mut manifest).map_err(|err| LoadError::new(LoadStage::Policy, err))?;
    if let Some(pin) = &manifest.sha256
        && *pin != source.sha256
    {
        return Err(LoadError::new(
            LoadStage::Pin,
            format!("{WASM_FILE} has sha256 {}, but the manifest pins {pin}", source.sha256),
        ));
    }

    check_memory(runtime, &manifest, &source.wasm)?;

    let (component, from_cache) = {
        let runtime = runtime.clone();
        let (wasm, sha256) = (source.wasm.clone(), source.sha256.clone());
        let limit = runtime.config.compile_timeout;
        let compiling = tokio::task::spawn_blocking(move || {
            let (component, from_cache) = runtime.cache.load_or_compile(&runtime.engine, &wasm, &sha256)?;
            component.initialize_copy_on_write_image().map_err(|err| format!("preparing the memory image: {err:#}"))?;
            Ok::<_, String>((component, from_cache))
        });
        // Cranelift cannot be interrupted: past the limit the result is abandoned (the thread
        // finishes on its own) and the version rejected.
        tokio::time::timeout(limit, compiling)
            .await
            .map_err(|_| {
                LoadError::new(
                    LoadStage::Compile,
                    format!("compiling did not finish within {} s; the load was abandoned", limit.as_secs_f64()),
                )
            })?
            .map_err(|err| LoadError::new(LoadStage::Compile, format!("the compile task failed: {err}")))?
            .map_err(|err| LoadError::new(LoadStage::Compile, err))?
    };

    let instance_pre = runtime.linker.instantiate_pre(&component).map_err(|err| {
        LoadError::new(LoadStage::Link, format!("the component needs imports the host does not provide: {err:#}"))
    })?;
    let pre = ToolPre::new(instance_pre).map_err(|err| {
        LoadError::new(LoadStage::Link, format!("not a component of the world amakaflow:tool/tool: {err:#}"))
    })?;

    let specs = crate::instance::describe::describe(runtime, &pre, &manifest)
        .await
        .map_err(|err| LoadError::new(LoadStage::Describe, err))?;
    let functions = crate::schema::validate(specs).map_err(|err| LoadError::new(LoadStage::Schema, err))?;

    Ok(LoadedPlugin {
        name: manifest.name.as_str().into(),
        egress: Arc::new(manifest.egress.clone()),
        config: Arc::new(manifest.config.clone()),
        permits: Arc::new(Semaphore::new(manifest.limits.max_concurrent_calls as usize)),
        manifest,
        dir: source.dir,
        sha256: source.sha256,
        manifest_sha256: source.manifest_sha256,
        signature,
        signature_file: source.signature,
        loaded_at: chrono::Utc::now(),
        load_time: started.elapsed(),
        from_cache,
        pre,
        functions,
        stats,
    })
}
