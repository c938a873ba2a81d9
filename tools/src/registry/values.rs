//! The plugins' settings and secrets in the registry's life cycle. Manifests are interpolated with
//! the values last read from the database ([`crate::plugin_values`], held by the runtime); when their
//! generation changes (a change through the admin API here, or through another instance, seen by
//! the poller) they are read again and every plugin whose values changed is reloaded, loaded or
//! rejected alike (a plugin refused for a missing setting loads once it is set). Nothing restarts,
//! and other plugins are untouched.

use std::sync::Arc;

use serde::Serialize;
use store::{Store, ValueKind, ValueListing};

use super::remove::rejected_dirs;
use super::{Registry, RegistryError, ReloadOutcome, ReloadReport};
use crate::manifest::valid_plugin_name;
use crate::plugin_values::StoredValues;

/// The longest value accepted.
pub const MAX_VALUE_BYTES: usize = 16 << 10;

/// What setting or deleting a value did.
#[derive(Clone, Debug, Serialize)]
pub struct ValueReport {
    pub plugin: String,
    pub kind: ValueKind,
    pub name: String,
    /// Set for the first time (false: a rotation, or a delete).
    pub created: bool,
    /// The generation of the plugins' values after the change.
    pub generation: i64,
    /// What reloading the plugin here did (none when no plugin of that name is here).
    pub reload: Option<ReloadReport>,
}

impl Registry {
    /// Sets (or rotates) value `name` of plugin `plugin` in the database, then reloads the plugin
    /// here; other instances follow within `PLUGINS_SYNC_SECONDS`.
    pub async fn set_value(
        &self,
        plugin: &str,
        kind: ValueKind,
        name: &str,
        value: &str,
    ) -> Result<ValueReport, RegistryError> {
        check_names(plugin, name)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(RegistryError::Invalid(format!("the value is longer than {MAX_VALUE_BYTES} bytes")));
        }
        let (store, key) = self.value_store()?;
        let change = store.plugin_value_set(key, plugin, kind, name, value).await?;
        let reload = self.reload_changed_values(plugin).await?;
        Ok(ValueReport {
            plugin: plugin.to_string(),
            kind,
            name: name.to_string(),
            created: change.created,
            generation: change.generation,
            reload,
        })
    }

    /// Deletes value `name` of plugin `plugin` (`NotFound` when it has none), then reloads the plugin here.
    pub async fn delete_value(&self, plugin: &str, kind: ValueKind, name: &str) -> Result<ValueReport, RegistryError> {
        check_names(plugin, name)?;
        let (store, _) = self.value_store()?;
        let generation = store
            .plugin_value_delete(plugin, kind, name)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("{} {name} of plugin {plugin}", kind.as_str())))?;
        let reload = self.reload_changed_values(plugin).await?;
        Ok(ValueReport { plugin: plugin.to_string(), kind, name: name.to_string(), created: false, generation, reload })
    }

    /// The values of one kind of plugin `plugin`: names and when they changed (a setting's value too,
    /// a secret's never).
    pub async fn list_values(&self, plugin: &str, kind: ValueKind) -> Result<Vec<ValueListing>, RegistryError> {
        let (store, _) = self.value_store()?;
        Ok(store.plugin_value_list(plugin, kind).await?)
    }

    /// Reads the database's values again if their generation changed, and reloads the plugins whose
    /// values changed (the poller's step, and the end of every change made here). Returns their reports.
    pub async fn follow_values(&self) -> Result<Vec<ReloadReport>, RegistryError> {
        let changed = self.refresh_values().await?;
        let mut reports = Vec::with_capacity(changed.len());
        for name in changed {
            reports.extend(self.reload_with_new_values(&name).await);
        }
        Ok(reports)
    }

    /// Loads plugin `name` again, from its directory and from the database, its rejected versions
    /// included (they may load now). The report of what serves now; none when `name` is not here
    /// (values set before its upload).
    async fn reload_with_new_values(&self, name: &str) -> Option<ReloadReport> {
        let dirs = {
            let mut control = self.control.lock().await;
            let mut dirs = rejected_dirs(&control, name);
            dirs.extend(control.loaded.get(name).map(|slot| slot.current.dir.clone()));
            dirs.sort();
            dirs.dedup();
            // Forgetting the rejections makes the database's version be tried again too.
            for dir in &dirs {
                control.rejected.remove(dir);
            }
            dirs
        };
        // Loads run outside the lock; a plugin already loading is skipped (reported as unchanged).
        let mut reports = Vec::new();
        for dir in &dirs {
            reports.push(self.reconcile_dir_or_skip(dir, true).await);
        }
        reports.extend(self.apply_database_or_log().await);
        reports.into_iter().rev().find(|r| r.plugin.as_deref() == Some(name) && r.outcome != ReloadOutcome::Unchanged)
    }

    /// Reads the database's values if their generation changed; returns the plugins whose values
    /// changed. Serialised, so an older read never replaces a newer one.
    pub(super) async fn refresh_values(&self) -> Result<Vec<String>, RegistryError> {
        let Ok((store, key)) = self.value_store() else { return Ok(Vec::new()) };
        let _serial = self.values_refresh.lock().await;
        let generation = store.plugin_values_generation().await?;
        let current = self.runtime.values.load_full();
        if generation == current.generation {
            return Ok(Vec::new());
        }
        let newer = StoredValues::new(generation, store.plugin_values_all(key).await?);
        let changed = current.changed_in(&newer);
        self.runtime.values.store(Arc::new(newer));
        if !changed.is_empty() {
            tracing::info!(generation, plugins = ?changed, "the plugins' settings or secrets changed");
        }
        Ok(changed)
    }

    /// After a change of `plugin`'s values made here: reads the values again and reloads `plugin`
    /// (even when the poller read the change first and is about to reload it too) and any other
    /// plugin whose values changed. The report of `plugin`'s reload.
    async fn reload_changed_values(&self, plugin: &str) -> Result<Option<ReloadReport>, RegistryError> {
        let mut changed = self.refresh_values().await?;
        if !changed.iter().any(|name| name == plugin) {
            changed.push(plugin.to_string());
        }
        let mut ours = None;
        for name in changed {
            let report = self.reload_with_new_values(&name).await;
            if name == plugin {
                ours = report;
            }
        }
        Ok(ours)
    }

    fn value_store(&self) -> Result<(&Store, &store::SecretsKey), RegistryError> {
        match (self.store(), self.runtime.config.secrets_key.as_ref()) {
            (Some(store), Some(key)) => Ok((store, key)),
            _ => Err(RegistryError::Database(
                "plugin settings and secrets need a database and PLUGIN_SECRETS_KEY".to_string(),
            )),
        }
    }
}

/// Plugin names as manifests have them; value names as manifests reference them.
fn check_names(plugin: &str, name: &str) -> Result<(), RegistryError> {
    if !valid_plugin_name(plugin) {
        return Err(RegistryError::Invalid(format!("plugin name {plugin:?} must match [a-z0-9][a-z0-9_-]{{0,63}}")));
    }
    if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(RegistryError::Invalid(format!("value name {name:?} must match [A-Za-z0-9_]{{1,128}}")));
    }
    Ok(())
}
