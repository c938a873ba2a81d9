//! `chat-api plugins test`: loads a plugin exactly as the registry does (signature, manifest,
//! operator policy, limits), compares its functions with the expected schemas, and runs each case
//! of its `plugin.tests.toml` with the real limits and egress policy — but offline: the runtime's
//! network is a [`Replay`], so every request that passes the policy is answered from the case's
//! script. A case fails on an unexpected request, a missing one, a request that differs (headers,
//! body), or a different result or error; the report lists each difference.
//!
//! State (`state::put`, previews) lives in an in-memory SQLite database for the whole run, so
//! cases run in file order may build on each other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use super::json_diff;
use super::test_cases::{self, Expected, TestCase};
use crate::egress::Network;
use crate::egress::replay::Replay;
use crate::engine::Runtime;
use crate::plugin::LoadedPlugin;
use crate::{Caller, HostServices, RuntimeConfig, ToolCall, ToolOutcome};

/// What one run found.
#[derive(Debug, Serialize)]
pub struct TestRun {
    pub plugin: String,
    pub version: String,
    pub schemas: SchemaCheck,
    pub cases: Vec<CaseResult>,
}

impl TestRun {
    pub fn passed(&self) -> bool {
        !matches!(self.schemas, SchemaCheck::Differs { .. }) && self.cases.iter().all(|c| c.problems.is_empty())
    }
}

/// The functions' descriptions and schemas against the file of expected ones.
#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SchemaCheck {
    /// The tests file names no schemas file.
    NotDeclared,
    Matches,
    /// `--write-schemas`: the file now holds the plugin's functions.
    Written {
        file: PathBuf,
    },
    Differs {
        differences: Vec<String>,
    },
}

/// One case: passed when it has no problems.
#[derive(Debug, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub problems: Vec<String>,
    pub elapsed_ms: f64,
}

/// Why the run could not start (a missing or invalid tests file, a plugin that does not load).
pub type SetupError = String;

/// Runs the cases of `manifest_dir/plugin.tests.toml` against the component `wasm`.
pub async fn run(
    manifest_dir: &Path,
    wasm: &Path,
    config: RuntimeConfig,
    write_schemas: bool,
) -> Result<TestRun, SetupError> {
    let tests_path = manifest_dir.join(test_cases::TESTS_FILE);
    let file = test_cases::read(&tests_path, &config.defaults)?;
    let store = store::Store::connect(&store::StoreOptions {
        url: "sqlite::memory:".to_string(),
        max_connections: 1,
        run_migrations: true,
        schema: None,
    })
    .await
    .map_err(|err| format!("opening the in-memory state database: {err}"))?;
    let replay = Arc::new(Replay::default());
    let network = Network::replaying(&config.resolve, replay.clone());
    let runtime = Runtime::with_network(config, HostServices::new(store), network)
        .map(Arc::new)
        .map_err(|err| format!("starting the wasm engine: {err:#}"))?;
    let manifest = manifest_dir.join(crate::MANIFEST_FILE);
    let plugin = super::load(&runtime, wasm, Some(&manifest))
        .await
        .map_err(|err| format!("plugin rejected at the {} step: {}", err.stage.as_str(), err.message))?;
    let plugin = Arc::new(plugin);

    let schemas = match &file.schemas {
        None => SchemaCheck::NotDeclared,
        Some(name) => check_schemas(&plugin, &manifest_dir.join(name), write_schemas)?,
    };
    let mut cases = Vec::new();
    for (index, case) in file.cases.into_iter().enumerate() {
        cases.push(run_case(&runtime, &plugin, &replay, index, case).await);
    }
    Ok(TestRun { plugin: plugin.name.to_string(), version: plugin.manifest.version.clone(), schemas, cases })
}

async fn run_case(
    runtime: &Runtime,
    plugin: &Arc<LoadedPlugin>,
    replay: &Replay,
    index: usize,
    case: TestCase,
) -> CaseResult {
    replay.script(case.exchanges);
    let call = ToolCall {
        function: case.function,
        arguments: case.arguments,
        caller: Caller {
            user_id: case.user,
            session_id: None,
            request_id: format!("plugins-test-{index}"),
            authorization: case.authorization,
            ..Caller::default()
        },
    };
    let started = Instant::now();
    let outcome = super::run_call(runtime, plugin, &call).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut problems: Vec<String> = replay.finish().iter().map(ToString::to_string).collect();
    problems.extend(result_problems(&case.expect, &outcome));
    if !problems.is_empty()
        && let Some(detail) = outcome.is_error().then(|| plugin.stats.snapshot().last_error.and_then(|e| e.detail))
        && let Some(detail) = detail
    {
        problems.push(format!("(host detail: {detail})"));
    }
    CaseResult { name: case.name, problems, elapsed_ms }
}

/// How the call's outcome differs from the expected one.
fn result_problems(expect: &Expected, outcome: &ToolOutcome) -> Vec<String> {
    match (expect, &outcome.result) {
        (Expected::Text(expected), Ok(actual)) if expected == actual => Vec::new(),
        (Expected::Text(expected), Ok(actual)) => {
            let mut problems = vec![format!("result differs:\n    expected {expected}\n    got      {actual}")];
            if let (Ok(e), Ok(a)) = (serde_json::from_str::<Value>(expected), serde_json::from_str::<Value>(actual)) {
                let differences = json_diff::differences(&e, &a);
                if differences.is_empty() {
                    problems.push("    (equal as JSON: the spacing or key order differs)".to_string());
                }
                problems.extend(differences.into_iter().map(|d| format!("    {d}")));
            } else {
                problems.push(format!("    first difference at byte {}", first_difference(expected, actual)));
            }
            problems
        }
        (Expected::Json(expected), Ok(actual)) => match serde_json::from_str::<Value>(actual) {
            Ok(actual) => {
                let differences = json_diff::differences(expected, &actual);
                if differences.is_empty() {
                    return Vec::new();
                }
                let mut problems = vec!["result differs (as JSON):".to_string()];
                problems.extend(differences.into_iter().map(|d| format!("    {d}")));
                problems
            }
            Err(_) => vec![format!("result is not JSON: expected {expected}, got {actual}")],
        },
        (Expected::Error { code, message }, Err(error)) => {
            let mut problems = Vec::new();
            if &error.code != code {
                problems.push(format!("error code differs: expected {code}, got {} ({})", error.code, error.message));
            }
            if let Some(message) = message
                && message != &error.message
            {
                problems
                    .push(format!("error message differs:\n    expected {message}\n    got      {}", error.message));
            }
            problems
        }
        (Expected::Error { code, .. }, Ok(actual)) => vec![format!("expected error {code}, got the result {actual}")],
        (_, Err(error)) => vec![format!("expected a result, got error {}: {}", error.code, error.message)],
    }
}

fn first_difference(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()))
}

/// The plugin's functions as the schemas file holds them: name → description and parameters.
fn described(plugin: &LoadedPlugin) -> Value {
    let functions: BTreeMap<&str, Value> = plugin
        .functions
        .iter()
        .map(|f| (&*f.name, json!({"description": f.description, "parameters": f.schema})))
        .collect();
    json!(functions)
}

fn check_schemas(plugin: &LoadedPlugin, path: &Path, write: bool) -> Result<SchemaCheck, SetupError> {
    let actual = described(plugin);
    if write {
        let text = serde_json::to_string_pretty(&actual).expect("JSON values serialise") + "\n";
        std::fs::write(path, text).map_err(|err| format!("writing {}: {err}", path.display()))?;
        return Ok(SchemaCheck::Written { file: path.to_path_buf() });
    }
    let text = std::fs::read_to_string(path).map_err(|err| {
        format!("{}: {err} (run `chat-api plugins test --write-schemas` to write it)", path.display())
    })?;
    let expected: Value = serde_json::from_str(&text).map_err(|err| format!("{}: not JSON: {err}", path.display()))?;
    let differences = json_diff::differences(&expected, &actual);
    Ok(if differences.is_empty() { SchemaCheck::Matches } else { SchemaCheck::Differs { differences } })
}
