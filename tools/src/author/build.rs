//! Where an author's plugin directory keeps its component, and how it is rebuilt, for
//! `plugins test`, `plugins dev` and `plugins push`. A directory is one of:
//! - a Rust crate (`Cargo.toml` beside `plugin.toml`): built with
//!   `cargo build --target wasm32-wasip2 --release`; the component is the crate's artifact in the
//!   target directory cargo reports (so `CARGO_TARGET_DIR` is honoured);
//! - any other language: a `build.sh` beside `plugin.toml`, run with `sh` in the directory, that
//!   leaves `plugin.wasm` there (the Python and JavaScript templates' build commands);
//! - a laid-out plugin (`plugin.wasm` beside `plugin.toml`), nothing to build.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

/// The build script of a non-Rust plugin.
pub const BUILD_SCRIPT: &str = "build.sh";

/// How the component of a directory is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildKind {
    Cargo,
    Script,
    Prebuilt,
}

/// How `dir` is built.
pub fn kind(dir: &Path) -> BuildKind {
    if dir.join("Cargo.toml").is_file() {
        BuildKind::Cargo
    } else if dir.join(BUILD_SCRIPT).is_file() {
        BuildKind::Script
    } else {
        BuildKind::Prebuilt
    }
}

/// The component of `dir` as last built (not building it).
pub fn component(dir: &Path) -> Result<PathBuf, String> {
    let path = match kind(dir) {
        BuildKind::Cargo => cargo_artifact(dir)?,
        BuildKind::Script | BuildKind::Prebuilt => dir.join(crate::WASM_FILE),
    };
    if !path.is_file() {
        return Err(format!("{} does not exist: build the plugin first", path.display()));
    }
    Ok(path)
}

/// Builds `dir` and returns its component; a failed build's output is in the error.
pub fn build(dir: &Path) -> Result<PathBuf, String> {
    let mut command = match kind(dir) {
        BuildKind::Cargo => {
            let mut command = Command::new("cargo");
            command.args(["build", "--quiet", "--target", "wasm32-wasip2", "--release", "--manifest-path"]);
            command.arg(dir.join("Cargo.toml"));
            command
        }
        BuildKind::Script => {
            let mut command = Command::new("sh");
            command.arg(BUILD_SCRIPT).current_dir(dir);
            command
        }
        BuildKind::Prebuilt => return component(dir),
    };
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("running the build of {}: {err}", dir.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("the build failed ({}):\n{}", output.status, stderr.trim_end()));
    }
    component(dir)
}

#[derive(Deserialize)]
struct Metadata {
    target_directory: PathBuf,
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
}

/// `<target>/wasm32-wasip2/release/<crate>.wasm` of the crate in `dir`.
fn cargo_artifact(dir: &Path) -> Result<PathBuf, String> {
    let manifest = dir.join("Cargo.toml");
    let output = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline", "--manifest-path"])
        .arg(&manifest)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("running cargo metadata: {err}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata: {}", String::from_utf8_lossy(&output.stderr).trim_end()));
    }
    let metadata: Metadata =
        serde_json::from_slice(&output.stdout).map_err(|err| format!("cargo metadata's output: {err}"))?;
    let manifest = manifest.canonicalize().map_err(|err| format!("{}: {err}", manifest.display()))?;
    let package = metadata
        .packages
        .iter()
        .find(|p| p.manifest_path == manifest)
        .ok_or_else(|| format!("{} is not a package of its workspace", manifest.display()))?;
    let file = format!("{}.wasm", package.name.replace('-', "_"));
    Ok(metadata.target_directory.join("wasm32-wasip2").join("release").join(file))
}
