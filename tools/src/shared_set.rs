//! The database's plugin set: the plugins shared by every instance (DESIGN §8). An upload is stored
//! there and made active before it is served ([`publish`]); a rollback of an uploaded plugin is
//! made there; and each instance applies the database's active versions at start-up (before it
//! reports ready), on every reload, and whenever the poller sees the generation of the set change.
//! Applying goes through the registry's normal load path (verify → compile, or the artifact cache
//! for a known hash → pre-instantiate → describe → validate → atomic swap), so a version that fails
//! on one instance is rejected there with its reason while the old one keeps serving.

use std::path::Path;

use store::{NewPluginVersion, PluginVersionKey, Store, StoreError};

use crate::loader::{LoadError, LoadStage, Source};
use crate::plugin::LoadedPlugin;

/// Stores a loaded (so valid) plugin version and makes it the active one. Returns the generation.
pub(crate) async fn publish(store: &Store, plugin: &LoadedPlugin, source: &Source) -> Result<i64, StoreError> {
    store
        .plugin_publish(&NewPluginVersion {
            name: &plugin.name,
            version: &plugin.manifest.version,
            key: PluginVersionKey { sha256: source.sha256.clone(), manifest_sha256: source.manifest_sha256.clone() },
            manifest: &source.manifest_text,
            wasm: &source.wasm,
            signature: source.signature.as_deref(),
        })
        .await
}

/// The files of a stored version, as if read from `dir`. The inner error: the version is missing.
pub(crate) async fn fetch(
    store: &Store,
    name: &str,
    key: &PluginVersionKey,
    dir: &Path,
) -> Result<Result<Source, LoadError>, StoreError> {
    let Some(stored) = store.plugin_version(name, key).await? else {
        return Ok(Err(LoadError::new(
            LoadStage::Read,
            format!("version {} of {name} is not in the database", key.sha256),
        )));
    };
    // The signature is checked by the loader like a directory's: a row written past this service
    // (without a trusted key) is refused under `enforce`.
    let source = Source::new(dir.to_path_buf(), stored.manifest, stored.wasm, stored.signature);
    // The key is the content's hash; a row that disagrees was altered outside this service.
    if source.sha256 != key.sha256 || source.manifest_sha256 != key.manifest_sha256 {
        return Ok(Err(LoadError::new(
            LoadStage::Pin,
            format!("the stored files of {name} do not match their sha256"),
        )));
    }
    Ok(Ok(source))
}
