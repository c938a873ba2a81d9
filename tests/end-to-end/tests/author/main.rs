//! The plugin author's loop beyond one call: `plugins test` runs the cases real plugins declare
//! offline through the replaying egress and catches each kind of mismatch (`plugin_tests`), `plugins
//! push` uploads to a running service and reports the activation (`push`), `plugins dev` rebuilds,
//! checks and uploads again when a source changes (`dev`), and the admin API gives the operator
//! console what it shows (`console`).

mod console;
mod dev;
mod plugin_tests;
mod push;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

/// Runs `chat-api ARGS` in this process with the test configuration plus `overrides`, as the
/// binary's `main` would.
pub async fn chat_api(args: &[&str], overrides: &[(&str, &str)]) -> ExitCode {
    let cli = host::cli::Cli::try_parse_from(std::iter::once("chat-api").chain(args.iter().copied()))
        .unwrap_or_else(|err| panic!("chat-api {args:?}: {err}"));
    let config = end_to_end::server::test_config(overrides).expect("a test configuration");
    host::cli::run(cli, config).await
}

/// `plugins/<name>` of this repository: the plugin's sources, manifest and tests file.
pub fn plugin_source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins").join(name)
}

/// A copy of built plugin `name` (`plugin.toml` + `plugin.wasm`) in a new temporary directory,
/// with its manifest's version replaced.
pub fn plugin_copy(name: &str, version: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let built = end_to_end::plugins::built_plugin(name);
    std::fs::copy(built.join("plugin.wasm"), dir.path().join("plugin.wasm")).unwrap();
    let manifest = std::fs::read_to_string(built.join("plugin.toml")).unwrap();
    let manifest = match version {
        Some(version) => with_version(&manifest, version),
        None => manifest,
    };
    std::fs::write(dir.path().join("plugin.toml"), manifest).unwrap();
    dir
}

/// `manifest` with its `version = …` line replaced.
pub fn with_version(manifest: &str, version: &str) -> String {
    manifest
        .lines()
        .map(|line| if line.starts_with("version") { format!("version = \"{version}\"") } else { line.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}
