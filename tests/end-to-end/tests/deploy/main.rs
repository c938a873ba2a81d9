//! The deployment files against the code: `render.yaml` is a Render web-service blueprint that
//! builds the host and the plugins and declares every variable the service reads (the list is
//! `host::config::ENV_VARS`, which a unit test holds equal to what `Config` reads), its values
//! make a valid production configuration, the plugin set it serves (`target/plugins.d`) is exactly
//! the 27 tools of the original contract, and the README and `docs/operations.md` document every
//! variable and every metric the code records.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use host::config::{Config, ENV_VARS, EnvKind, WhenUnset};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// `render.yaml` as JSON values (it has only string keys).
fn blueprint() -> Value {
    serde_yaml_ng::from_str(&read("render.yaml")).expect("render.yaml is YAML")
}

fn web_service(blueprint: &Value) -> &Value {
    let services = blueprint["services"].as_array().expect("render.yaml has a services list");
    let web = &services[0];
    assert_eq!(web["type"], "web", "services[0] is the web service");
    assert!(web["name"].as_str().is_some_and(|n| !n.is_empty()), "the service has a name");
    web
}

/// `key` → the entry, every entry checked to have exactly one source of its value.
fn env_entries(web: &Value) -> BTreeMap<String, Value> {
    let mut entries = BTreeMap::new();
    for entry in web["envVars"].as_array().expect("envVars is a list") {
        let key = entry["key"].as_str().unwrap_or_else(|| panic!("envVars entry without a key: {entry}"));
        let sources = [
            entry.get("value").is_some(),
            entry.get("sync") == Some(&Value::Bool(false)),
            entry.get("generateValue") == Some(&Value::Bool(true)),
            entry.get("fromDatabase").is_some(),
            entry.get("fromService").is_some(),
            entry.get("fromGroup").is_some(),
        ];
        assert_eq!(sources.iter().filter(|s| **s).count(), 1, "{key}: exactly one of value, sync: false, …");
        if let Some(value) = entry.get("value") {
            assert!(value.is_string(), "{key}: Render values are strings; quote {value}");
        }
        assert!(entries.insert(key.to_string(), entry.clone()).is_none(), "{key} is listed twice");
    }
    entries
}

#[test]
fn render_yaml_is_a_web_service_that_builds_host_and_plugins() {
    let blueprint = blueprint();
    let web = web_service(&blueprint);
    assert_eq!(web["healthCheckPath"], "/health");
    let delay = web["maxShutdownDelaySeconds"].as_u64().expect("maxShutdownDelaySeconds");
    assert!((1..=300).contains(&delay), "Render allows 1–300 s, got {delay}");

    match web["runtime"].as_str() {
        Some("rust") => {
            let build = web["buildCommand"].as_str().expect("buildCommand");
            for step in [
                "rustup target add wasm32-wasip2",
                "make plugins",
                "cargo build --release",
                "-p host --bin chat-api",
                "chat-api plugins sign target/plugins.d",
            ] {
                assert!(build.contains(step), "buildCommand lacks {step:?}: {build}");
            }
            let start = web["startCommand"].as_str().expect("startCommand");
            assert_eq!(start, "./target/release/chat-api serve");
        }
        Some("docker") => {
            let dockerfile = web["dockerfilePath"].as_str().expect("dockerfilePath");
            assert!(repo().join(dockerfile).is_file(), "{dockerfile} exists");
        }
        other => panic!("unexpected runtime {other:?}"),
    }

    // The plugins directory is the one `make plugins` lays out, and draining fits the kill delay.
    let env = env_entries(web);
    assert_eq!(env["PLUGINS_DIR"]["value"], "target/plugins.d");
    assert!(read("Makefile").contains("PLUGINS_OUT := $(CURDIR)/target/plugins.d"));
    let grace: f64 = env["SHUTDOWN_GRACE_SECONDS"]["value"].as_str().unwrap().parse().unwrap();
    assert!(grace + 5.0 <= delay as f64, "streams need time to persist after the grace period");
}

#[test]
fn render_yaml_declares_every_variable_the_service_reads() {
    let blueprint = blueprint();
    let env = env_entries(web_service(&blueprint));
    for var in ENV_VARS {
        let entry = env.get(var.name);
        match var.kind {
            EnvKind::Setting => assert!(entry.is_some(), "render.yaml does not declare {}", var.name),
            EnvKind::Secret => {
                let entry = entry.unwrap_or_else(|| panic!("render.yaml does not declare secret {}", var.name));
                assert!(entry.get("value").is_none(), "{} is a secret: `sync: false`, never a value in git", var.name);
            }
            // Render sets RENDER_GIT_COMMIT itself; production ignores the test bypass.
            EnvKind::Platform | EnvKind::DevOnly => {
                assert!(entry.is_none(), "{} must not be declared in the blueprint", var.name)
            }
        }
    }
    for key in env.keys() {
        assert!(ENV_VARS.iter().any(|v| v.name == key), "render.yaml sets {key}, which the service never reads");
    }
}

/// A value an operator might enter for a `sync: false` variable (each secret its own, as
/// production requires of the service keys).
fn example(name: &str) -> String {
    match name {
        "DATABASE_URL" => "postgres://chat:pw@db.example.supabase.co:5432/postgres".to_string(),
        "CLERK_DOMAIN" => "clerk.amakaflow.com".to_string(),
        "CLERK_ISSUER" => "https://clerk.amakaflow.com".to_string(),
        "ALLOWED_ORIGINS" => "https://app.amakaflow.com".to_string(),
        "API_KEYS" => "key-one:user_1".to_string(),
        "SENTRY_DSN" => "https://public@o1.ingest.sentry.io/1".to_string(),
        // 32 bytes of base64, as `openssl rand -base64 32` gives.
        "PLUGIN_SECRETS_KEY" => "c2VjcmV0cy1rZXktb2YtdGhpcnR5LXR3by1ieXRlcyE=".to_string(),
        // The base64 line of a minisign public key (nothing signs with its secret half).
        "PLUGIN_TRUSTED_KEYS" => "RWQBI0VniavN7wy85CEv3HDqvDUuBPH9QEXrXefSP8Qc07CGM0GC0lBI".to_string(),
        // The Key Value instance's internal URL (render.yaml takes it from the service).
        "REDIS_URL" => "redis://chat-api-kv:6379".to_string(),
        n if n.ends_with("_URL") => "https://service.example.com".to_string(),
        n => format!("{}-a-secret-value-of-more-than-thirty-two-characters", n.to_ascii_lowercase()),
    }
}

/// The production environment `render.yaml` gives, with [`example`] values for `sync: false`.
fn production_vars() -> BTreeMap<String, String> {
    let blueprint = blueprint();
    env_entries(web_service(&blueprint))
        .iter()
        .map(|(key, entry)| {
            let value = entry["value"].as_str().map(str::to_string).unwrap_or_else(|| example(key));
            (key.clone(), value)
        })
        .collect()
}

#[test]
fn render_yaml_values_make_a_valid_production_configuration() {
    let vars = production_vars();
    let config = Config::from_lookup(&|name| vars.get(name).cloned()).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.environment.is_production());
    assert_eq!(config.server.listen.port(), 10000, "Render's port");
    assert!(config.server.listen.ip().is_unspecified(), "Render routes to every interface");
    assert!(config.telemetry.json_logs);
    assert!(config.telemetry.metrics_enabled && config.auth.metrics_token.is_some(), "/metrics has its own token");

    // Leaving any required `sync: false` variable empty is refused at start-up, naming it.
    for var in ENV_VARS.iter().filter(|v| v.required_in_production()) {
        let err = Config::from_lookup(&|name| (name != var.name).then(|| vars.get(name).cloned()).flatten())
            .expect_err(var.name);
        assert!(err.to_string().contains(var.name), "{err}");
    }
}

#[test]
fn production_refuses_an_unreadable_or_invalid_plugin_policy() {
    let with_policy = |path: &str| {
        let mut vars = production_vars();
        vars.insert("PLUGIN_POLICY_FILE".to_string(), path.to_string());
        Config::from_lookup(&|name| vars.get(name).cloned())
    };
    let err = with_policy("/nonexistent/plugin-policy.toml").unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(err.problems[0].starts_with("PLUGIN_POLICY_FILE: cannot read /nonexistent/plugin-policy.toml"), "{err}");

    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "[[grant]]\norigin = \"https://*.onrender.com\"\nforward_user_auth = true\n").unwrap();
    let err = with_policy(file.path().to_str().unwrap()).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(err.problems[0].contains("policy rule \"credentials only to exact origins\""), "{err}");

    std::fs::write(file.path(), "[[grant]]\norigin = \"https://service.example.com\"\nforward_user_auth = true\n")
        .unwrap();
    let config = with_policy(file.path().to_str().unwrap()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.plugins.policy.grants.len(), 1);
}

/// `NAME` in backticks somewhere in `text`.
fn names(text: &str, name: &str) -> bool {
    text.contains(&format!("`{name}`"))
}

#[test]
fn readme_and_operations_guide_document_every_variable() {
    let readme = read("README.md");
    let configuration = readme.split("## Configuration").nth(1).expect("README has a Configuration section");
    let configuration = configuration.split("\n## ").next().unwrap();
    let operations = read("docs/operations.md");
    let variables = operations.split("## Environment variables").nth(1).expect("an Environment variables section");
    for var in ENV_VARS {
        assert!(names(configuration, var.name), "README's Configuration table lacks `{}`", var.name);
        assert!(names(&operations, var.name), "docs/operations.md lacks `{}`", var.name);
        // The operations table has one row per variable; a default value (or a one-word description
        // of one, like `$PLUGINS_DIR/.cache`) must be the code's.
        let row = variables.lines().find(|l| l.starts_with(&format!("| `{}` |", var.name)));
        let row = row.unwrap_or_else(|| panic!("docs/operations.md has no table row for `{}`", var.name));
        let defaults = match var.default {
            WhenUnset::Value(value) | WhenUnset::DevelopmentValue(value) => vec![value],
            WhenUnset::PerEnvironment { local, deployed } => vec![local, deployed],
            WhenUnset::Described(text) => Some(text).filter(|t| !t.contains(' ')).into_iter().collect(),
            WhenUnset::Nothing => Vec::new(),
        };
        for default in defaults {
            assert!(names(row, default), "docs/operations.md: `{}` defaults to `{default}`", var.name);
        }
    }
    assert!(readme.contains("docs/operations.md"), "README links the operations guide");
}

/// Rust files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn service_sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for crate_dir in ["host/src", "tools/src", "store/src"] {
        rust_files(&repo().join(crate_dir), &mut files);
    }
    // The store's test support (`testing.rs`, which reads TEST_DATABASE_URL) is not the service.
    files.retain(|f| !f.ends_with("store/src/testing.rs"));
    files.into_iter().map(|f| (f.clone(), std::fs::read_to_string(&f).unwrap())).collect()
}

/// The string literal right after each occurrence of `prefix` (`None` when it is not a literal).
fn literals_after<'a>(text: &'a str, prefix: &str) -> Vec<Option<&'a str>> {
    text.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            rest.strip_prefix('"').and_then(|r| r.split('"').next())
        })
        .collect()
}

#[test]
fn only_config_reads_the_environment() {
    for (file, text) in service_sources() {
        for prefix in ["env::var(", "env::var_os(", "env::vars("] {
            for literal in literals_after(&text, prefix) {
                match literal {
                    Some(name) => assert!(
                        ENV_VARS.iter().any(|v| v.name == name),
                        "{} reads {name}, which is not in config::ENV_VARS",
                        file.display()
                    ),
                    None => {
                        assert!(file.ends_with("host/src/config/mod.rs"), "{} reads the environment", file.display())
                    }
                }
            }
        }
        if text.contains("from_default_env") {
            assert!(ENV_VARS.iter().any(|v| v.name == "RUST_LOG"), "{}: RUST_LOG is read", file.display());
        }
    }
}

/// The host's layering (`host/src/lib.rs`): only `api` (and `app`, which assembles it) knows HTTP
/// and the shared state; the layers below it never name them, so dependencies flow one way.
#[test]
fn layers_below_the_api_never_name_the_api_or_the_app() {
    let mut checked = 0;
    for layer in ["chat", "live", "llm", "auth", "embeddings", "telemetry"] {
        let mut files = Vec::new();
        rust_files(&repo().join("host/src").join(layer), &mut files);
        assert!(!files.is_empty(), "host/src/{layer} has no files");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for forbidden in ["crate::api", "crate::app", "super::super::api", "axum::extract::State"] {
                assert!(!text.contains(forbidden), "{} names `{forbidden}`", file.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "checked only {checked} files");
}

#[test]
fn plugin_manifests_interpolate_only_values_the_service_provides() {
    let config = Config::from_lookup(&|name| (name == "OPENAI_API_KEY").then(|| "k".to_string())).unwrap();
    let defaults = config.plugin_value_defaults();
    for name in defaults.settings.keys().chain(defaults.secrets.keys()) {
        assert!(ENV_VARS.iter().any(|v| v.name == name), "the defaults include {name}, not in ENV_VARS");
    }
    for dir in std::fs::read_dir(repo().join("plugins")).unwrap().flatten() {
        let Ok(manifest) = std::fs::read_to_string(dir.path().join("plugin.toml")) else { continue };
        for (at, _) in manifest.match_indices("${") {
            let reference = manifest[at + 2..].split('}').next().unwrap();
            // `${KIND:NAME:-fallback}` works without a value; `${KIND:NAME}` needs one, and a
            // production plugin gets its values from the service's defaults (or an operator).
            if reference.contains(":-") {
                continue;
            }
            let provided = match reference.split_once(':') {
                Some(("setting", name)) => defaults.settings.contains_key(name),
                Some(("secret", name)) => defaults.secrets.contains_key(name),
                _ => false,
            };
            assert!(provided, "{}: ${{{reference}}} has no default", dir.path().display());
        }
    }
}

#[test]
fn operations_guide_documents_every_metric() {
    let operations = read("docs/operations.md");
    let mut metrics = BTreeSet::new();
    for (_, text) in service_sources() {
        for macro_name in ["counter!(", "histogram!(", "gauge!("] {
            metrics.extend(literals_after(&text, macro_name).into_iter().flatten().map(str::to_string));
        }
    }
    assert!(metrics.len() >= 10, "found the metrics: {metrics:?}");
    for metric in metrics {
        assert!(names(&operations, &metric), "docs/operations.md lacks metric `{metric}`");
    }
}

/// The 27 tools of the original contract (`reference/original-contract.md` §3.2).
const CONTRACT_TOOLS: [&str; 27] = [
    "search_workout_library",
    "add_workout_to_calendar",
    "generate_workout",
    "save_and_push_workout",
    "navigate_to_page",
    "import_from_youtube",
    "import_from_tiktok",
    "import_from_instagram",
    "import_from_pinterest",
    "import_from_image",
    "save_imported_workout",
    "import_workout_from_url",
    "edit_workout",
    "export_workout",
    "duplicate_workout",
    "log_workout_completion",
    "get_workout_history",
    "get_workout_details",
    "get_calendar_events",
    "reschedule_workout",
    "cancel_scheduled_workout",
    "sync_strava",
    "sync_garmin",
    "get_strava_activities",
    "generate_program",
    "generate_program_workouts",
    "save_program",
];

#[tokio::test]
async fn the_deployed_plugin_set_offers_exactly_the_27_tools() {
    // `make plugins` lays out the production set apart from the test plugins (echo, hostile).
    let deployed = end_to_end::plugins::built_plugins();
    let mut dirs: Vec<String> = std::fs::read_dir(&deployed)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    dirs.sort();
    let mut expected_dirs = end_to_end::tool_world::PLUGINS.map(str::to_string).to_vec();
    expected_dirs.sort();
    assert_eq!(dirs, expected_dirs, "{} holds the production plugins only", deployed.display());
    assert!(end_to_end::plugins::built_test_plugins().join("echo").is_dir(), "echo is laid out as a test plugin");

    // Signed as the build signs it (`chat-api plugins sign target/plugins.d`, here with a key made
    // for the test), then loaded as the deployed service loads it: its production configuration's
    // interpolations, and `PLUGIN_SIGNATURES=enforce` trusting that key.
    let signed = tempfile::tempdir().unwrap();
    let (public, secret, _) = tools::signing::generate_key_pair().unwrap();
    for dir in &dirs {
        let to = signed.path().join(dir);
        std::fs::create_dir_all(&to).unwrap();
        for file in [tools::MANIFEST_FILE, tools::WASM_FILE] {
            std::fs::copy(deployed.join(dir).join(file), to.join(file)).unwrap();
        }
        tools::author::sign(&to, &secret).unwrap();
    }
    let mut vars = production_vars();
    vars.insert("PLUGIN_TRUSTED_KEYS".to_string(), public.lines().nth(1).unwrap().to_string());
    let config = Config::from_lookup(&|name| vars.get(name).cloned()).unwrap();
    assert_eq!(config.plugins.signatures.policy, tools::SignaturePolicy::Enforce);
    let cache = tempfile::tempdir().unwrap();
    let runtime = tools::RuntimeConfig {
        plugins_dir: signed.path().to_path_buf(),
        cache_dir: cache.path().to_path_buf(),
        pooling: false,
        watch: false,
        ..host::app::runtime_config(&config)
    };
    let registry = tools::Registry::load(runtime, tools::HostServices::without_store()).await.unwrap();
    let rejected: Vec<_> = registry.list().await.into_iter().filter(|p| p.last_rejection.is_some()).collect();
    assert!(rejected.is_empty(), "every production plugin loads: {rejected:?}");
    let listing = registry.list().await;
    assert!(listing.iter().all(|p| p.signature.as_ref().is_some_and(|s| s.is_verified())), "every one verified");
    let mut offered: Vec<String> = registry.functions().iter().map(|f| f.name.clone()).collect();
    offered.sort();
    let mut contract = CONTRACT_TOOLS.map(str::to_string).to_vec();
    contract.sort();
    assert_eq!(offered, contract);
}

#[tokio::test]
async fn the_deployed_configuration_serves_no_development_page() {
    let mut vars = production_vars();
    // The test server brings its own database and plugin directory.
    for local in ["PLUGINS_DIR", "PLUGIN_CACHE_DIR", "PLUGINS_WATCH"] {
        vars.remove(local);
    }
    let overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let db = store::testing::TestDatabase::sqlite().await.unwrap();
    let server = end_to_end::server::TestServer::start(&overrides, db).await.unwrap();
    assert!(server.state.config.environment.is_production());
    for path in ["/", "/dev/token"] {
        let status = server.client().get(server.url(path)).send().await.unwrap().status();
        assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{path} in production");
    }
}
