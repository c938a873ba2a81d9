//! The author loop's commands beyond one call: `plugins test` (the declared cases, offline, through
//! a replaying egress), `plugins dev` (rebuild on change, check, upload to a local service, show
//! its calls) and `plugins push` (sign when a key is configured, upload through the admin API,
//! report the activation).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tools::author::{build, plugin_tests};

use super::admin_client::{AdminClient, describe_upload};

/// `chat-api plugins test DIR`: prints one line per case (and each difference under a failed one);
/// fails when any case or the schemas differ.
pub async fn test(
    dir: &Path,
    wasm: Option<PathBuf>,
    runtime: tools::RuntimeConfig,
    write_schemas: bool,
) -> anyhow::Result<ExitCode> {
    let wasm = match wasm.map(Ok).unwrap_or_else(|| build::component(dir)) {
        Ok(wasm) => wasm,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::from(2));
        }
    };
    let run = match plugin_tests::run(dir, &wasm, runtime, write_schemas).await {
        Ok(run) => run,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::from(2));
        }
    };
    println!("plugin {} {}", run.plugin, run.version);
    match &run.schemas {
        plugin_tests::SchemaCheck::NotDeclared => {
            println!("schemas   not checked (the tests file names no schemas file)")
        }
        plugin_tests::SchemaCheck::Matches => println!("ok        schemas"),
        plugin_tests::SchemaCheck::Written { file } => println!("written   schemas to {}", file.display()),
        plugin_tests::SchemaCheck::Differs { differences } => {
            println!("FAIL      schemas differ from the expected ones:");
            differences.iter().for_each(|d| println!("    {d}"));
        }
    }
    for case in &run.cases {
        let status = if case.problems.is_empty() { "ok  " } else { "FAIL" };
        println!("{status}      {} ({:.1} ms)", case.name, case.elapsed_ms);
        for problem in &case.problems {
            println!("    {}", problem.replace('\n', "\n    "));
        }
    }
    let failed = run.cases.iter().filter(|c| !c.problems.is_empty()).count();
    println!("{} cases, {} passed, {failed} failed", run.cases.len(), run.cases.len() - failed);
    Ok(if run.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Where `plugins push` and `plugins dev` upload to, and with what.
pub struct Target {
    pub url: String,
    /// `ADMIN_API_KEY` of the service at `url`.
    pub admin_key: String,
    /// The minisign secret key's text (`--signing-key` or `PLUGIN_SIGNING_KEY_FILE`), if any.
    pub signing_key: Option<String>,
}

/// `chat-api plugins push DIR --url URL`: builds, signs if a key is configured, uploads, and
/// reports whether the version is now active.
pub async fn push(dir: &Path, target: Target) -> anyhow::Result<ExitCode> {
    let wasm = match build::build(dir) {
        Ok(wasm) => wasm,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let client = AdminClient::new(&target.url, &target.admin_key);
    match client.upload(dir, &wasm, target.signing_key.as_deref()).await {
        Ok(uploaded) => {
            println!("{}", describe_upload(&uploaded));
            Ok(if uploaded.active { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Err(err) => {
            eprintln!("{err}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `chat-api plugins dev DIR`: build, check, upload, then show the plugin's calls; again on every
/// change of its sources. Runs until interrupted.
pub async fn dev(
    dir: &Path,
    target: Target,
    runtime: tools::RuntimeConfig,
    poll: std::time::Duration,
) -> anyhow::Result<ExitCode> {
    let mut watch = match tools::author::source_watch::SourceWatch::start(dir, std::time::Duration::from_millis(300)) {
        Ok(watch) => watch,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::from(2));
        }
    };
    let client = AdminClient::new(&target.url, &target.admin_key);
    println!("watching {} (uploading to {})", dir.display(), target.url);
    let mut plugin = cycle(dir, &client, &target, runtime.clone()).await;
    let mut shown = serde_json::Value::Null;
    let mut ticker = tokio::time::interval(poll);
    loop {
        tokio::select! {
            changed = watch.changed() => {
                let Some(changed) = changed else { return Ok(ExitCode::FAILURE) };
                let names: Vec<String> = changed.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
                println!("changed: {}", names.join(", "));
                plugin = cycle(dir, &client, &target, runtime.clone()).await.or(plugin);
            }
            _ = ticker.tick() => {
                if let Some(name) = &plugin {
                    show_calls(&client, name, &mut shown).await;
                }
            }
        }
    }
}

/// One build → check → upload; the plugin's name once it serves.
async fn cycle(dir: &Path, client: &AdminClient, target: &Target, runtime: tools::RuntimeConfig) -> Option<String> {
    let started = std::time::Instant::now();
    let wasm = build::build(dir).map_err(|err| println!("build failed: {err}")).ok()?;
    println!("built {} in {:.1} s", wasm.display(), started.elapsed().as_secs_f64());
    let manifest = dir.join(tools::MANIFEST_FILE);
    let check = tools::author::check(&wasm, Some(&manifest), runtime)
        .await
        .map_err(|err| println!("check failed at the {} step: {}", err.stage.as_str(), err.message))
        .ok()?;
    let functions: Vec<&str> = check.functions.iter().map(|f| f.name.as_str()).collect();
    println!("checked {} {}: {}", check.name, check.version, functions.join(", "));
    match client.upload(dir, &wasm, target.signing_key.as_deref()).await {
        Ok(uploaded) => {
            println!("uploaded: {}", describe_upload(&uploaded));
            uploaded.active.then_some(check.name)
        }
        Err(err) => {
            println!("upload failed: {err}");
            None
        }
    }
}

/// Prints the plugin's statistics when they changed since the last time.
async fn show_calls(client: &AdminClient, plugin: &str, shown: &mut serde_json::Value) {
    let listed = match client.listed(plugin).await {
        Ok(listed) => listed,
        Err(err) => {
            println!("listing failed: {err}");
            return;
        }
    };
    let stats = &listed["stats"];
    if stats.is_null() || stats == shown {
        return;
    }
    let latency = &stats["latency"];
    let latency = match (latency["p50_us"].as_u64(), latency["p99_us"].as_u64()) {
        (Some(p50), Some(p99)) => format!(", p50 {:.1} ms, p99 {:.1} ms", p50 as f64 / 1000.0, p99 as f64 / 1000.0),
        _ => String::new(),
    };
    println!(
        "calls: {} (version {}), failures: {}{latency}",
        stats["calls"],
        listed["version"].as_str().unwrap_or("?"),
        stats["failures_by_code"]
    );
    if let Some(error) = stats["last_error"].as_object()
        && shown["last_error"] != stats["last_error"]
    {
        let text = |key: &str| error.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        println!("last error: {} {}: {} {}", text("function"), text("code"), text("message"), text("detail"));
    }
    *shown = stats.clone();
}
