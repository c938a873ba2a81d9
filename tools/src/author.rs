//! What the plugin author's CLI runs (`chat-api plugins check` / `plugins call`): one plugin loaded
//! exactly as the registry loads it (every check, the real limits and egress policy), outside any
//! registry, so an author can test a component without the chat; and `plugins sign`, which writes
//! the `plugin.sig` the registry checks ([`crate::signing`]). `plugins test` runs the cases a plugin
//! declares ([`test_cases`]) offline through a replaying egress ([`plugin_tests`]).

pub mod build;
pub mod json_diff;
pub mod plugin_tests;
pub mod source_watch;
pub mod test_cases;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::engine::Runtime;
pub use crate::loader::Source;
use crate::loader::{self, LoadError, LoadStage};
use crate::manifest::Limits;
use crate::plugin::LoadedPlugin;
use crate::signing::{self, SignatureStatus};
use crate::stats::PluginStats;
use crate::{FunctionInfo, HostServices, RuntimeConfig, ToolCall, ToolOutcome};

/// A plugin that passed every check.
#[derive(Clone, Debug, Serialize)]
pub struct PluginCheck {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub limits: Limits,
    /// The allowed origins.
    pub egress: Vec<String>,
    /// The keys of `[config]` (values are not shown).
    pub config_keys: Vec<String>,
    pub functions: Vec<FunctionInfo>,
    pub load_time_ms: f64,
    pub from_cache: bool,
    /// The signer (key id and trusted comment), or why there is none.
    pub signature: SignatureStatus,
}

/// A plugin directory just signed.
#[derive(Clone, Debug, Serialize)]
pub struct SignedPlugin {
    /// The `plugin.sig` written.
    pub signature_file: PathBuf,
    pub sha256: String,
    pub manifest_sha256: String,
    pub trusted_comment: String,
}

/// One call's outcome, with what the host saw when it failed (trap text, the guest's stderr).
#[derive(Clone, Debug)]
pub struct AuthorCall {
    pub outcome: ToolOutcome,
    pub detail: Option<String>,
}

/// The files of a plugin: `wasm` and its manifest (by default `plugin.toml` beside it). `wasm` may
/// also be a plugin directory.
pub fn plugin_files(wasm: &Path, manifest: Option<&Path>) -> (PathBuf, PathBuf) {
    if wasm.is_dir() {
        return (
            wasm.join(loader::WASM_FILE),
            manifest.map(Path::to_path_buf).unwrap_or_else(|| wasm.join(loader::MANIFEST_FILE)),
        );
    }
    let beside = wasm.parent().unwrap_or(Path::new(".")).join(loader::MANIFEST_FILE);
    (wasm.to_path_buf(), manifest.map(Path::to_path_buf).unwrap_or(beside))
}

/// Loads the plugin as the registry would and describes what it offers.
pub async fn check(wasm: &Path, manifest: Option<&Path>, config: RuntimeConfig) -> Result<PluginCheck, LoadError> {
    let runtime = runtime(config, HostServices::without_store())?;
    let plugin = load(&runtime, wasm, manifest).await?;
    Ok(PluginCheck {
        name: plugin.name.to_string(),
        version: plugin.manifest.version.clone(),
        sha256: plugin.sha256.clone(),
        limits: plugin.manifest.limits,
        egress: plugin.egress.rules().iter().map(|r| r.origin.to_string()).collect(),
        config_keys: plugin.config.keys().cloned().collect(),
        functions: plugin
            .functions
            .iter()
            .map(|f| FunctionInfo {
                name: f.name.to_string(),
                description: f.description.clone(),
                parameters: f.schema.clone(),
                plugin: plugin.name.to_string(),
            })
            .collect(),
        load_time_ms: plugin.load_time.as_secs_f64() * 1000.0,
        from_cache: plugin.from_cache,
        signature: plugin.signature.clone(),
    })
}

/// Signs the plugin in `dir` (its `plugin.toml` and `plugin.wasm`, as they are) with a minisign
/// secret key and writes `dir/plugin.sig`. The trusted comment names the plugin, its version and the
/// time of signing.
pub fn sign(dir: &Path, secret_key_text: &str) -> Result<SignedPlugin, LoadError> {
    let source = Source::read(dir)?;
    let (signature, trusted_comment) = signature_of(&source, secret_key_text)?;
    let signature_file = dir.join(signing::SIGNATURE_FILE);
    std::fs::write(&signature_file, signature)
        .map_err(|err| LoadError::new(LoadStage::Read, format!("writing {}: {err}", signature_file.display())))?;
    Ok(SignedPlugin { signature_file, sha256: source.sha256, manifest_sha256: source.manifest_sha256, trusted_comment })
}

/// The `plugin.sig` text of a plugin version (and its trusted comment), written nowhere
/// (`plugins push` sends it with the upload).
pub fn signature_of(source: &Source, secret_key_text: &str) -> Result<(String, String), LoadError> {
    let table: toml::Table = toml::from_str(&source.manifest_text)
        .map_err(|err| LoadError::new(LoadStage::Manifest, format!("{}: {err}", loader::MANIFEST_FILE)))?;
    let text = |key: &str| table.get(key).and_then(toml::Value::as_str).unwrap_or("?").to_string();
    let trusted_comment = format!(
        "plugin {} {} signed {}",
        text("name"),
        text("version"),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    let signature = signing::sign(secret_key_text, &source.sha256, &source.manifest_sha256, &trusted_comment)
        .map_err(|err| LoadError::new(LoadStage::Signature, err))?;
    Ok((signature, trusted_comment))
}

/// Loads the plugin and runs one call with its real limits and egress policy.
pub async fn call(
    wasm: &Path,
    manifest: Option<&Path>,
    config: RuntimeConfig,
    services: HostServices,
    call: ToolCall,
) -> Result<AuthorCall, LoadError> {
    let runtime = runtime(config, services)?;
    let plugin = Arc::new(load(&runtime, wasm, manifest).await?);
    let outcome = run_call(&runtime, &plugin, &call).await;
    let detail = if outcome.is_error() { plugin.stats.snapshot().last_error.and_then(|e| e.detail) } else { None };
    Ok(AuthorCall { outcome, detail })
}

/// Runs `call` on a loaded plugin (an unknown function is the error the registry gives).
async fn run_call(runtime: &Runtime, plugin: &Arc<LoadedPlugin>, call: &ToolCall) -> ToolOutcome {
    match plugin.function_index(&call.function) {
        Some(index) => crate::instance::call::run(runtime, plugin, index, call).await,
        None => ToolOutcome {
            plugin: Some(plugin.name.to_string()),
            result: Err(crate::ToolError::unknown_function(&call.function)),
            elapsed: std::time::Duration::ZERO,
            fuel_consumed: None,
        },
    }
}

fn runtime(config: RuntimeConfig, services: HostServices) -> Result<Arc<Runtime>, LoadError> {
    Runtime::new(config, services)
        .map(Arc::new)
        .map_err(|err| LoadError::new(LoadStage::Compile, format!("starting the wasm engine: {err:#}")))
}

async fn load(runtime: &Arc<Runtime>, wasm: &Path, manifest: Option<&Path>) -> Result<LoadedPlugin, LoadError> {
    let (wasm_path, manifest_path) = plugin_files(wasm, manifest);
    let read = |path: &Path| {
        std::fs::read(path).map_err(|err| LoadError::new(LoadStage::Read, format!("{}: {err}", path.display())))
    };
    let manifest_text = String::from_utf8(read(&manifest_path)?)
        .map_err(|_| LoadError::new(LoadStage::Manifest, format!("{} is not UTF-8", manifest_path.display())))?;
    let dir = wasm_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let signature_path = dir.join(signing::SIGNATURE_FILE);
    let signature = signature_path.exists().then(|| read(&signature_path)).transpose()?;
    let signature = signature.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let source = Source::new(dir, manifest_text, read(&wasm_path)?, signature);
    loader::load(runtime, source, Arc::new(PluginStats::default())).await
}
