//! Where the Python and JavaScript plugin toolchains are: `make polyglot-toolchains` installs
//! componentize-py and componentize-js under `~/.cache/amakaflow-chat/` and exports their paths as
//! `COMPONENTIZE_PY` and `COMPONENTIZE_JS`; a test run outside make finds them at the same
//! defaults. A missing toolchain fails the test that needs it, naming the make target.

use std::path::{Path, PathBuf};
use std::process::Command;

use tools::scaffold::Lang;

/// The pinned versions (the Makefile's `COMPONENTIZE_PY_VERSION` and `COMPONENTIZE_JS_VERSION`).
const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
const COMPONENTIZE_JS_VERSION: &str = "0.23.0";

/// The `componentize-py` executable.
pub fn componentize_py() -> PathBuf {
    find("COMPONENTIZE_PY", &format!("componentize-py-{COMPONENTIZE_PY_VERSION}/bin/componentize-py"))
}

/// The `componentize-js` executable.
pub fn componentize_js() -> PathBuf {
    find("COMPONENTIZE_JS", &format!("componentize-js-{COMPONENTIZE_JS_VERSION}/node_modules/.bin/componentize-js"))
}

fn find(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/amakaflow-chat").join(default)
    });
    assert!(
        path.is_file(),
        "{} is missing ({variable}): run `make polyglot-toolchains` (make test does)",
        path.display()
    );
    path
}

/// Runs the `build.sh` `chat-api plugins new` wrote in `dir`, as the author would, with the pinned
/// toolchains; panics with its output unless it built `dir/plugin.wasm`.
pub fn run_build_script(dir: &Path, lang: Lang) {
    let mut command = Command::new(dir.join("build.sh"));
    match lang {
        Lang::Python => command.env("COMPONENTIZE_PY", componentize_py()),
        Lang::Js => command.env("COMPONENTIZE_JS", componentize_js()),
        // The plugin workspace's build directory: the new crate locks the same versions, so its
        // dependencies are compiled already.
        Lang::Rust => command.env("CARGO_TARGET_DIR", plugin_build_dir()),
    };
    let output = command.output().expect("running build.sh");
    assert!(
        output.status.success(),
        "build.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.join("plugin.wasm").is_file(), "build.sh wrote no plugin.wasm");
}

/// `$CARGO_TARGET_DIR/wasm-plugins` (the Makefile's `PLUGIN_BUILD_DIR`), else the repository's.
fn plugin_build_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("wasm-plugins")
}
