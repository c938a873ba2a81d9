//! `chat-api plugins new NAME --lang rust|python|js`: a new plugin directory from the templates kept
//! in `templates/plugin-<lang>/` (embedded here), ready to build and to pass `plugins check` and
//! `plugins test` as created. A Python or JavaScript plugin gets its own copy of the guest SDK and
//! of the WIT, so the directory builds wherever it is; a Rust one depends on the SDK by path.

use std::path::{Path, PathBuf};

/// A template file: its path in the new directory and its text (with `{{…}}` placeholders).
type File = (&'static str, &'static str);

macro_rules! repo_file {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $path))
    };
}

/// The tool world, which componentize-py and componentize-js build against.
const WIT: &[File] = &[
    ("wit/tool.wit", repo_file!("wit/tool.wit")),
    ("wit/deps/cli.wit", repo_file!("wit/deps/cli.wit")),
    ("wit/deps/clocks.wit", repo_file!("wit/deps/clocks.wit")),
    ("wit/deps/filesystem.wit", repo_file!("wit/deps/filesystem.wit")),
    ("wit/deps/http.wit", repo_file!("wit/deps/http.wit")),
    ("wit/deps/io.wit", repo_file!("wit/deps/io.wit")),
    ("wit/deps/random.wit", repo_file!("wit/deps/random.wit")),
    ("wit/deps/sockets.wit", repo_file!("wit/deps/sockets.wit")),
];

const COMMON: &[File] = &[(".gitignore", "plugin.wasm\ntarget/\n__pycache__/\n")];

const RUST: &[File] = &[
    ("Cargo.toml", repo_file!("templates/plugin-rust/Cargo.toml")),
    ("src/lib.rs", repo_file!("templates/plugin-rust/src/lib.rs")),
    ("build.sh", repo_file!("templates/plugin-rust/build.sh")),
    ("plugin.toml", repo_file!("templates/plugin-rust/plugin.toml")),
    ("plugin.tests.toml", repo_file!("templates/plugin-rust/plugin.tests.toml")),
    ("README.md", repo_file!("templates/plugin-rust/README.md")),
    // The plugin workspace's lock: the new crate builds with the versions the repository's plugins use.
    ("Cargo.lock", repo_file!("plugins/Cargo.lock")),
];

const PYTHON: &[File] = &[
    ("app.py", repo_file!("templates/plugin-python/app.py")),
    ("build.sh", repo_file!("templates/plugin-python/build.sh")),
    ("plugin.toml", repo_file!("templates/plugin-python/plugin.toml")),
    ("plugin.tests.toml", repo_file!("templates/plugin-python/plugin.tests.toml")),
    ("README.md", repo_file!("templates/plugin-python/README.md")),
    ("amakaflow_tool/__init__.py", repo_file!("plugins/sdk-python/amakaflow_tool/__init__.py")),
    ("amakaflow_tool/config.py", repo_file!("plugins/sdk-python/amakaflow_tool/config.py")),
    ("amakaflow_tool/errors.py", repo_file!("plugins/sdk-python/amakaflow_tool/errors.py")),
    ("amakaflow_tool/flags.py", repo_file!("plugins/sdk-python/amakaflow_tool/flags.py")),
    ("amakaflow_tool/http.py", repo_file!("plugins/sdk-python/amakaflow_tool/http.py")),
    ("amakaflow_tool/log.py", repo_file!("plugins/sdk-python/amakaflow_tool/log.py")),
    ("amakaflow_tool/plugin.py", repo_file!("plugins/sdk-python/amakaflow_tool/plugin.py")),
    ("amakaflow_tool/rate_limit.py", repo_file!("plugins/sdk-python/amakaflow_tool/rate_limit.py")),
    ("amakaflow_tool/schema.py", repo_file!("plugins/sdk-python/amakaflow_tool/schema.py")),
    ("amakaflow_tool/state.py", repo_file!("plugins/sdk-python/amakaflow_tool/state.py")),
];

const JS: &[File] = &[
    ("app.js", repo_file!("templates/plugin-js/app.js")),
    ("build.sh", repo_file!("templates/plugin-js/build.sh")),
    ("plugin.toml", repo_file!("templates/plugin-js/plugin.toml")),
    ("plugin.tests.toml", repo_file!("templates/plugin-js/plugin.tests.toml")),
    ("README.md", repo_file!("templates/plugin-js/README.md")),
    ("amakaflow-tool.js", repo_file!("plugins/sdk-js/amakaflow-tool.js")),
];

/// The Rust SDK of the repository this binary was built from (a new Rust plugin's path dependency).
const REPO_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/sdk");

/// The language of a new plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl std::str::FromStr for Lang {
    type Err = String;

    fn from_str(text: &str) -> Result<Lang, String> {
        match text {
            "rust" => Ok(Lang::Rust),
            "python" => Ok(Lang::Python),
            "js" => Ok(Lang::Js),
            other => Err(format!("`{other}` is not a plugin language: rust, python or js")),
        }
    }
}

/// Why a plugin directory could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "`{0}` is not a plugin name: use lowercase letters, digits, `-` and `_`, starting with a letter (at most 64)"
    )]
    InvalidName(String),
    #[error("{0} already exists: choose another name or directory")]
    Exists(PathBuf),
    #[error("the Rust SDK is not at {0}: pass --sdk DIR (the `plugins/sdk` of amakaflow-chat)")]
    NoSdk(PathBuf),
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// A plugin directory just created.
#[derive(Debug)]
pub struct NewPlugin {
    pub dir: PathBuf,
    pub function: String,
    /// The files written, relative to `dir`.
    pub files: Vec<&'static str>,
}

/// Writes plugin `name` into `parent/name`, which must not exist. `sdk` overrides the Rust SDK's
/// directory (default: the repository's `plugins/sdk`).
pub fn new_plugin(parent: &Path, name: &str, lang: Lang, sdk: Option<&Path>) -> Result<NewPlugin, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::InvalidName(name.to_string()));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    let function = name.replace('-', "_");
    let sdk_path = match lang {
        Lang::Rust => {
            let sdk = sdk.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(REPO_SDK));
            let sdk = sdk.canonicalize().map_err(|_| ScaffoldError::NoSdk(sdk.clone()))?;
            if !sdk.join("Cargo.toml").is_file() {
                return Err(ScaffoldError::NoSdk(sdk));
            }
            sdk.to_string_lossy().into_owned()
        }
        Lang::Python | Lang::Js => String::new(),
    };
    let files: Vec<File> = match lang {
        Lang::Rust => [COMMON, RUST].concat(),
        Lang::Python => [COMMON, PYTHON, WIT].concat(),
        Lang::Js => [COMMON, JS, WIT].concat(),
    };
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{function}}", &function)
            .replace("{{crate}}", &function)
            .replace("{{sdk_path}}", &sdk_path)
    };
    for (path, text) in &files {
        let target = dir.join(path);
        let text = if path.starts_with("amakaflow") || path.starts_with("wit/") || *path == "Cargo.lock" {
            text.to_string() // copied as they are
        } else {
            fill(text)
        };
        write(&target, &text, path.ends_with(".sh"))?;
    }
    Ok(NewPlugin { dir, function, files: files.iter().map(|(path, _)| *path).collect() })
}

/// `[a-z][a-z0-9_-]{0,63}`: a valid plugin name whose snake case is a valid function name.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
}

fn write(path: &Path, text: &str, executable: bool) -> Result<(), ScaffoldError> {
    let failed = |source| ScaffoldError::Write { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    std::fs::write(path, text).map_err(failed)?;
    #[cfg(unix)]
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_plugin_gets_its_sdk_and_the_wit() {
        let parent = tempfile::tempdir().unwrap();
        let created = new_plugin(parent.path(), "greeter-py", Lang::Python, None).unwrap();
        assert_eq!(created.function, "greeter_py");
        let app = std::fs::read_to_string(created.dir.join("app.py")).unwrap();
        assert!(app.contains("def greeter_py(ctx: Context"), "{app}");
        assert!(!app.contains("{{"), "every placeholder is filled");
        let manifest = std::fs::read_to_string(created.dir.join("plugin.toml")).unwrap();
        assert!(manifest.contains("name = \"greeter-py\""));
        assert!(created.dir.join("amakaflow_tool/http.py").is_file());
        assert!(created.dir.join("wit/deps/http.wit").is_file());
    }

    #[test]
    fn a_rust_plugin_depends_on_the_repository_sdk() {
        let parent = tempfile::tempdir().unwrap();
        let created = new_plugin(parent.path(), "greeter", Lang::Rust, None).unwrap();
        let cargo = std::fs::read_to_string(created.dir.join("Cargo.toml")).unwrap();
        let sdk = Path::new(REPO_SDK).canonicalize().unwrap();
        assert!(cargo.contains(&format!("path = \"{}\"", sdk.display())), "{cargo}");
        let build = std::fs::read_to_string(created.dir.join("build.sh")).unwrap();
        assert!(build.contains("release/greeter.wasm"), "{build}");
    }

    #[test]
    fn bad_names_and_existing_directories_are_refused() {
        let parent = tempfile::tempdir().unwrap();
        for name in ["", "Greeter", "1tool", "../escape", "a/b", "tool!", &"a".repeat(65)] {
            assert!(
                matches!(new_plugin(parent.path(), name, Lang::Js, None), Err(ScaffoldError::InvalidName(_))),
                "{name}"
            );
        }
        new_plugin(parent.path(), "taken", Lang::Js, None).unwrap();
        assert!(matches!(new_plugin(parent.path(), "taken", Lang::Js, None), Err(ScaffoldError::Exists(_))));
        let sdk = parent.path().join("nowhere");
        assert!(matches!(new_plugin(parent.path(), "other", Lang::Rust, Some(&sdk)), Err(ScaffoldError::NoSdk(_))));
    }
}
