//! The operations behind the admin API and the reports they give: the listing of loaded and
//! rejected plugins, reloading one or all, rolling one back, installing an upload. Each changes the
//! tool set through [`super::reconcile`] under the registry's lock, so an admin operation and a
//! file change never interleave; a version is compiled and described before the lock is taken
//! ([`super::loading`]: one load per plugin at a time), so a slow load holds up nothing else.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Registry;
use super::files::{dir_name, plugin_dirs};
use super::reconcile::{Control, check_conflicts, count_reload};
use crate::loader::{self, LoadError, LoadStage, Source};
use crate::manifest::Limits;
use crate::plugin::LoadedPlugin;
use crate::signing::{SignaturePolicy, SignatureStatus, compare_versions};
use crate::stats::StatsSnapshot;

/// A rejected plugin version.
#[derive(Clone, Debug, Serialize)]
pub struct Rejection {
    pub dir: PathBuf,
    pub plugin: Option<String>,
    pub sha256: Option<String>,
    pub at: DateTime<Utc>,
    pub error: LoadError,
    #[serde(skip)]
    pub(super) manifest_sha256: Option<String>,
    #[serde(skip)]
    pub(super) signature_file: Option<String>,
}

/// Whether a listed plugin serves calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginStatus {
    Loaded,
    Rejected,
}

/// One plugin in the admin listing.
#[derive(Clone, Debug, Serialize)]
pub struct PluginListing {
    /// The plugin name (for a rejected directory whose manifest has no readable name: the directory name).
    pub name: String,
    pub status: PluginStatus,
    pub dir: PathBuf,
    pub version: Option<String>,
    pub sha256: Option<String>,
    /// The signer (key id, trusted comment) of the serving version, or `unsigned` / `untrusted`
    /// (loaded under `warn`), or `not_checked` (`off`); none for a rejected plugin.
    pub signature: Option<SignatureStatus>,
    pub functions: Vec<String>,
    pub limits: Option<Limits>,
    /// The allowed origins.
    pub egress: Vec<String>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub load_time_ms: Option<f64>,
    pub from_cache: Option<bool>,
    /// The version a rollback would restore.
    pub previous: Option<VersionInfo>,
    pub stats: StatsSnapshot,
    /// The last failed load (for a loaded plugin: the newer version that was refused).
    pub last_rejection: Option<Rejection>,
}

/// A plugin version, briefly.
#[derive(Clone, Debug, Serialize)]
pub struct VersionInfo {
    pub version: String,
    pub sha256: String,
    pub loaded_at: DateTime<Utc>,
}

/// What a reload, rollback or upload did to one plugin directory. Serialized in snake_case
/// (`"loaded"`, `"rolled_back"`, …): the admin API's `outcome` field and the `outcome` label of
/// `plugin_reloads_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// A new version serves.
    Loaded,
    /// Nothing changed: the same files serve, or were already rejected.
    Unchanged,
    /// The directory is gone, and its plugin with it.
    Removed,
    /// The version failed a check; the previous one (if any) keeps serving.
    Rejected,
    /// The previous version serves again.
    RolledBack,
}

impl ReloadOutcome {
    /// The serialized name, as a metric label or log field.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadOutcome::Loaded => "loaded",
            ReloadOutcome::Unchanged => "unchanged",
            ReloadOutcome::Removed => "removed",
            ReloadOutcome::Rejected => "rejected",
            ReloadOutcome::RolledBack => "rolled_back",
        }
    }
}

/// What a reload, rollback or upload did.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadReport {
    pub dir: PathBuf,
    pub plugin: Option<String>,
    pub outcome: ReloadOutcome,
    pub version: Option<String>,
    pub sha256: Option<String>,
    pub from_cache: Option<bool>,
    pub load_time_ms: Option<f64>,
    pub error: Option<LoadError>,
}

/// Why an admin operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no plugin named {0}")]
    NotFound(String),
    #[error("plugin {0} has no previous version to roll back to")]
    NoPrevious(String),
    #[error("the plugin was rejected: {0}")]
    Rejected(LoadError),
    /// The request itself is invalid (a malformed name, a value too long).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
    /// The shared plugin set in the database could not be read or changed.
    #[error("the plugin database is unavailable: {0}")]
    Database(String),
    /// Another load of the plugin (an upload, a reload) has not finished yet.
    #[error("plugin {plugin} is already being loaded (since {since}); try again when that load has finished")]
    Busy { plugin: String, since: DateTime<Utc> },
    /// A part is over its cap ([`loader::MAX_MANIFEST_BYTES`], [`loader::MAX_WASM_BYTES`]), the
    /// directory loader's.
    #[error("{0}")]
    TooLarge(String),
}

impl From<store::StoreError> for RegistryError {
    fn from(err: store::StoreError) -> RegistryError {
        RegistryError::Database(err.to_string())
    }
}

impl Registry {
    /// Every loaded plugin, and every directory whose plugin was rejected.
    pub async fn list(&self) -> Vec<PluginListing> {
        let control = self.control.lock().await;
        let mut listing: Vec<PluginListing> = control
            .loaded
            .values()
            .map(|slot| {
                let p = &slot.current;
                PluginListing {
                    name: p.name.to_string(),
                    status: PluginStatus::Loaded,
                    dir: p.dir.clone(),
                    version: Some(p.manifest.version.clone()),
                    sha256: Some(p.sha256.clone()),
                    signature: Some(p.signature.clone()),
                    functions: p.functions.iter().map(|f| f.name.to_string()).collect(),
                    limits: Some(p.manifest.limits),
                    egress: p.egress.rules().iter().map(|r| r.origin.to_string()).collect(),
                    loaded_at: Some(p.loaded_at),
                    load_time_ms: Some(p.load_time.as_secs_f64() * 1000.0),
                    from_cache: Some(p.from_cache),
                    previous: slot.previous.as_ref().map(|v| VersionInfo {
                        version: v.manifest.version.clone(),
                        sha256: v.sha256.clone(),
                        loaded_at: v.loaded_at,
                    }),
                    stats: p.stats.snapshot(),
                    last_rejection: control.rejected.get(&p.dir).cloned(),
                }
            })
            .collect();
        let loaded_dirs: Vec<&PathBuf> = control.loaded.values().map(|s| &s.current.dir).collect();
        for rejection in control.rejected.values().filter(|r| !loaded_dirs.contains(&&r.dir)) {
            let name = rejection.plugin.clone().unwrap_or_else(|| dir_name(&rejection.dir));
            let stats = self.stats.lock().get(&name).map(|s| s.snapshot()).unwrap_or_default();
            listing.push(PluginListing {
                name,
                status: PluginStatus::Rejected,
                dir: rejection.dir.clone(),
                version: None,
                sha256: rejection.sha256.clone(),
                signature: None,
                functions: Vec::new(),
                limits: None,
                egress: Vec::new(),
                loaded_at: None,
                load_time_ms: None,
                from_cache: None,
                previous: None,
                stats,
                last_rejection: Some(rejection.clone()),
            });
        }
        listing
    }

    /// Loads plugin `name` again from its directory (even if its files did not change), then
    /// applies the database's active versions (an uploaded version of `name` wins over the files).
    /// `Busy` while the plugin loads already.
    pub async fn reload(&self, name: &str) -> Result<ReloadReport, RegistryError> {
        let control = self.control.lock().await;
        let dir = match control.loaded.get(name) {
            Some(slot) => slot.current.dir.clone(),
            None => control
                .rejected
                .values()
                .find(|r| r.plugin.as_deref() == Some(name) || dir_name(&r.dir) == name)
                .map(|r| r.dir.clone())
                .ok_or_else(|| RegistryError::NotFound(name.to_string()))?,
        };
        drop(control);
        let report = self.reconcile_dir(&dir, true).await?;
        let applied = self.apply_database_or_log().await;
        // The database may have replaced what the directory held: report what serves now.
        Ok(applied
            .into_iter()
            .find(|r| r.plugin.as_deref() == Some(name) && r.outcome != ReloadOutcome::Unchanged)
            .unwrap_or(report))
    }

    /// Brings the tool set in line with the directory: loads new and changed plugins (every plugin
    /// when `force`), removes those whose directory is gone; then applies the database's active
    /// versions. Reports every directory, and every database version that changed something; a
    /// plugin loading already (an upload) is skipped.
    pub async fn reload_all(&self, force: bool) -> Vec<ReloadReport> {
        let control = self.control.lock().await;
        let mut dirs = plugin_dirs(self.plugins_dir());
        for slot in control.loaded.values() {
            if !dirs.contains(&slot.current.dir) {
                dirs.push(slot.current.dir.clone());
            }
        }
        let rejected: Vec<PathBuf> = control.rejected.keys().filter(|d| !dirs.contains(d)).cloned().collect();
        dirs.extend(rejected);
        dirs.sort();
        drop(control);
        let mut reports = Vec::new();
        for dir in dirs {
            reports.push(self.reconcile_dir_or_skip(&dir, force).await);
        }
        let applied = self.apply_database_or_log().await;
        reports.extend(applied.into_iter().filter(|r| r.outcome != ReloadOutcome::Unchanged));
        reports
    }

    /// Swaps plugin `name` back to the version it had before its last load (a second rollback
    /// returns to the newer one). For an uploaded plugin this happens in the database, so every
    /// instance follows; otherwise only here, until the plugin's files change again.
    pub async fn rollback(&self, name: &str) -> Result<ReloadReport, RegistryError> {
        if let Some(store) = self.store()
            && store.plugin_active(name).await?.is_some()
        {
            let _turn = self.loading.claim(name)?;
            let active =
                store.plugin_rollback(name).await?.ok_or_else(|| RegistryError::NoPrevious(name.to_string()))?;
            let mut report = self.apply_version(store, name, &active.key).await?;
            if let Some(error) = report.error.clone() {
                // It no longer loads here (a clash with a plugin added since): undo in the database.
                store.plugin_rollback(name).await?;
                return Err(RegistryError::Rejected(error));
            }
            report.outcome = ReloadOutcome::RolledBack;
            return Ok(report);
        }
        let mut control = self.control.lock().await;
        let slot = control.loaded.get_mut(name).ok_or_else(|| RegistryError::NotFound(name.to_string()))?;
        let previous = slot.previous.take().ok_or_else(|| RegistryError::NoPrevious(name.to_string()))?;
        let newer = std::mem::replace(&mut slot.current, previous);
        slot.previous = Some(newer);
        let current = slot.current.clone();
        if let Err(conflict) = check_conflicts(&control, &current) {
            // Another plugin took one of the old version's names meanwhile: undo.
            let slot = control.loaded.get_mut(name).expect("just used");
            let newer = slot.previous.take().expect("just set");
            slot.previous = Some(std::mem::replace(&mut slot.current, newer));
            return Err(RegistryError::Rejected(conflict));
        }
        self.publish(&control);
        count_reload(name.to_string(), ReloadOutcome::RolledBack);
        tracing::info!(plugin = name, version = %current.manifest.version, "plugin rolled back");
        Ok(ReloadReport::new(ReloadOutcome::RolledBack, &current.dir, Some(&current), None))
    }

    /// Installs an uploaded plugin: loads it completely from the given files (the signature
    /// checked like any version's; under `enforce`, a version not newer than every version of the
    /// plugin seen before is a replay and refused), and only if that succeeds stores it as the
    /// active version in the database (when there is one, so every instance serves it), writes it
    /// to `plugins_dir/<name>/` (replacing the previous files) and serves it. Compiling and
    /// `describe` run outside the lock (other plugins' operations go on meanwhile), one load per
    /// plugin at a time.
    pub async fn install(
        &self,
        manifest_text: String,
        wasm: Vec<u8>,
        signature: Option<String>,
    ) -> Result<ReloadReport, RegistryError> {
        if let Some(too_large) = loader::oversized(manifest_text.len() as u64, wasm.len() as u64) {
            return Err(RegistryError::TooLarge(too_large));
        }
        let manifest = loader::parse_manifest(&self.runtime, &manifest_text).map_err(RegistryError::Rejected)?;
        let _turn = self.loading.claim_for_upload(&manifest.name).await?;
        let dir = self.dir_for(&*self.control.lock().await, &manifest.name);
        let source = Source::new(dir, manifest_text, wasm, signature);
        let plugin = self.load_version(source.clone()).await.map_err(RegistryError::Rejected)?;
        let mut control = self.control.lock().await;
        self.admit(&control, &plugin).map_err(RegistryError::Rejected)?;
        if self.runtime.config.signatures.policy == SignaturePolicy::Enforce {
            self.refuse_replay(&control, &plugin).await?;
        }
        if let Some(store) = self.store() {
            crate::shared_set::publish(store, &plugin, &source).await?;
        }
        self.serve(&mut control, plugin, &source).await
    }
}

impl Registry {
    /// Refuses an upload whose version is not newer than the newest version of its plugin this
    /// registry has seen (stored in the database, or loaded here), unless it is those very files: a
    /// validly signed old version replayed to bring back what a newer one fixed.
    async fn refuse_replay(&self, control: &Control, plugin: &LoadedPlugin) -> Result<(), RegistryError> {
        let key = (plugin.sha256.as_str(), plugin.manifest_sha256.as_str());
        let mut seen: Vec<(String, (String, String))> = match self.store() {
            Some(store) => store
                .plugin_version_history(&plugin.name)
                .await?
                .into_iter()
                .map(|(version, k)| (version, (k.sha256, k.manifest_sha256)))
                .collect(),
            None => Vec::new(),
        };
        if let Some(slot) = control.loaded.get(&*plugin.name) {
            for p in std::iter::once(&slot.current).chain(&slot.previous) {
                seen.push((p.manifest.version.clone(), (p.sha256.clone(), p.manifest_sha256.clone())));
            }
        }
        let Some((newest, newest_key)) = seen.iter().max_by(|a, b| compare_versions(&a.0, &b.0)) else {
            return Ok(());
        };
        let version = &plugin.manifest.version;
        let same_files = (newest_key.0.as_str(), newest_key.1.as_str()) == key;
        if compare_versions(version, newest).is_gt() || same_files {
            return Ok(());
        }
        Err(RegistryError::Rejected(LoadError::new(
            LoadStage::Signature,
            format!(
                "version {version} of {} is not newer than {newest}, the newest version seen: a replayed older \
                 upload is refused under PLUGIN_SIGNATURES=enforce (roll back instead, or publish a newer version)",
                plugin.name
            ),
        )))
    }
}

impl ReloadReport {
    /// What happened to `dir`: the version that serves there now (if the report names one) and
    /// why a version was refused (if one was).
    pub(super) fn new(
        outcome: ReloadOutcome,
        dir: &Path,
        plugin: Option<&LoadedPlugin>,
        error: Option<LoadError>,
    ) -> ReloadReport {
        ReloadReport {
            dir: dir.to_path_buf(),
            plugin: plugin.map(|p| p.name.to_string()),
            outcome,
            version: plugin.map(|p| p.manifest.version.clone()),
            sha256: plugin.map(|p| p.sha256.clone()),
            from_cache: plugin.map(|p| p.from_cache),
            load_time_ms: plugin.map(|p| p.load_time.as_secs_f64() * 1000.0),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_outcomes_serialize_as_their_label() {
        use ReloadOutcome::*;
        for outcome in [Loaded, Unchanged, Removed, Rejected, RolledBack] {
            assert_eq!(serde_json::to_value(outcome).unwrap(), serde_json::json!(outcome.as_str()));
        }
        assert_eq!(serde_json::to_value(RolledBack).unwrap(), "rolled_back");
    }
}
