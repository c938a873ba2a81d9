//! The plugins `make plugins` built, and temporary plugin directories made from them, for tests
//! of the tool runtime. A test copies the plugins it needs into its own `PLUGINS_DIR` and may
//! rewrite their manifests (limits, egress rules), so tests never share state on disk.

use std::path::{Path, PathBuf};

/// `target/plugins.d` of this repository: the service's plugins (the 27 tools, as deployed).
pub fn built_plugins() -> PathBuf {
    built("plugins.d", "mapper")
}

/// `target/test-plugins.d`: the plugins only tests load, the example `echo` and the hostile ones.
pub fn built_test_plugins() -> PathBuf {
    built("test-plugins.d", "echo")
}

/// `target/<dir>`, checked to hold plugin `sample`.
fn built(dir: &str, sample: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target").join(dir);
    assert!(path.join(sample).is_dir(), "{} has no plugins: run `make plugins` first (make test does)", path.display());
    path
}

/// The built directory of plugin `name` (the service's plugins first, then the test plugins).
pub fn built_plugin(name: &str) -> PathBuf {
    let service = built_plugins().join(name);
    if service.is_dir() {
        return service;
    }
    let test = built_test_plugins().join(name);
    assert!(test.is_dir(), "no built plugin {name}: run `make plugins`");
    test
}

/// A temporary `PLUGINS_DIR`, removed on drop.
pub struct PluginsDir {
    dir: tempfile::TempDir,
}

impl PluginsDir {
    pub fn new() -> PluginsDir {
        PluginsDir { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies built plugin `name` in, under its own name.
    pub fn add(&self, name: &str) -> PathBuf {
        self.add_as(name, name)
    }

    /// Copies built plugin `name` in as directory `dir`.
    pub fn add_as(&self, name: &str, dir: &str) -> PathBuf {
        let from = built_plugin(name);
        let to = self.path().join(dir);
        std::fs::create_dir_all(&to).expect("creating a plugin directory");
        for file in ["plugin.toml", "plugin.wasm"] {
            std::fs::copy(from.join(file), to.join(file)).expect("copying a built plugin");
        }
        to
    }

    /// The manifest of plugin directory `dir`.
    pub fn manifest(&self, dir: &str) -> String {
        std::fs::read_to_string(self.path().join(dir).join("plugin.toml")).expect("reading a manifest")
    }

    /// Replaces the manifest of plugin directory `dir`.
    pub fn write_manifest(&self, dir: &str, text: &str) {
        std::fs::write(self.path().join(dir).join("plugin.toml"), text).expect("writing a manifest");
    }

    /// Replaces the component of plugin directory `dir`.
    pub fn write_wasm(&self, dir: &str, bytes: &[u8]) {
        std::fs::write(self.path().join(dir).join("plugin.wasm"), bytes).expect("writing a component");
    }

    pub fn wasm(&self, dir: &str) -> Vec<u8> {
        std::fs::read(self.path().join(dir).join("plugin.wasm")).expect("reading a component")
    }
}

impl Default for PluginsDir {
    fn default() -> Self {
        PluginsDir::new()
    }
}
