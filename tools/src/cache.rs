//! Compiled components on disk, so a reload or a restart does not recompile an unchanged plugin.
//! An artifact's file name is the wasm's sha256 plus a hash of the engine's compatibility hash
//! (wasmtime version and every setting that affects code), so a changed engine never loads a stale
//! artifact. Artifacts are written atomically (temporary file, then rename) and loaded with
//! `Component::deserialize_file`, which is `unsafe` because it trusts the bytes: the directory is
//! the host's own, and nothing from a plugin author is ever deserialised. A file that fails to load
//! is removed and the component recompiled. The directory keeps the newest [`MAX_ENTRIES`] files.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

const MAX_ENTRIES: usize = 64;
const EXTENSION: &str = "cwasm";

/// The artifact cache (disabled when its directory cannot be created).
pub struct ArtifactCache {
    dir: Option<PathBuf>,
    engine_hash: String,
}

impl ArtifactCache {
    pub fn new(dir: &Path, engine: &Engine) -> ArtifactCache {
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hex::encode(&hasher.0.finalize()[..8]);
        let dir = match std::fs::create_dir_all(dir) {
            Ok(()) => Some(dir.to_path_buf()),
            Err(err) => {
                tracing::warn!(dir = %dir.display(), error = %err, "cannot create the plugin cache directory; compiling without a cache");
                None
            }
        };
        ArtifactCache { dir, engine_hash }
    }

    /// The component for `wasm` (whose hex sha256 is `sha256`), from the cache when possible.
    /// Returns whether it came from the cache. Blocking and CPU-heavy: run it off the async threads.
    pub fn load_or_compile(&self, engine: &Engine, wasm: &[u8], sha256: &str) -> Result<(Component, bool), String> {
        let path = self.dir.as_ref().map(|dir| dir.join(format!("{sha256}-{}.{EXTENSION}", self.engine_hash)));
        if let Some(path) = &path
            && path.exists()
        {
            // SAFETY: the file was written by `store` below from `Component::serialize` of this
            // engine configuration (the compatibility hash is in its name) into the host-owned cache.
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(component) => return Ok((component, true)),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %format!("{err:#}"), "discarding an unusable cached artifact");
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        if Engine::detect_precompiled(wasm).is_some() {
            return Err("plugin.wasm is a precompiled artifact; only WebAssembly components are accepted".into());
        }
        let component =
            Component::new(engine, wasm).map_err(|err| format!("not a valid WebAssembly component: {err:#}"))?;
        if let Some(path) = &path {
            self.store(path, &component);
        }
        Ok((component, false))
    }

    fn store(&self, path: &Path, component: &Component) {
        let written = component.serialize().map_err(|err| format!("{err:#}")).and_then(|bytes| {
            let tmp = path.with_extension(format!("{EXTENSION}.tmp-{}", uuid::Uuid::new_v4().simple()));
            std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)).map_err(|err| {
                let _ = std::fs::remove_file(&tmp);
                err.to_string()
            })
        });
        match written {
            Ok(()) => self.prune(),
            Err(err) => tracing::warn!(path = %path.display(), error = %err, "cannot write a compiled artifact"),
        }
    }

    /// Removes all but the newest [`MAX_ENTRIES`] artifacts.
    fn prune(&self) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut artifacts: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|ext| ext == EXTENSION))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if artifacts.len() <= MAX_ENTRIES {
            return;
        }
        artifacts.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
        for (_, path) in artifacts.into_iter().skip(MAX_ENTRIES) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Feeds `Hash` output into sha256 (stable across processes, unlike `DefaultHasher`).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
