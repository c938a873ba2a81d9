//! Loads in progress: the slow steps of a load (compile, `describe`) run outside the registry's
//! lock, so at most one load per plugin may run at a time; each is listed while it runs. A second
//! upload of a plugin that is being uploaded is refused ([`RegistryError::Busy`]); an upload waits
//! for a shorter load of its plugin (a reload, the database poller's) to finish; those others are
//! refused or skip the plugin while any load of it runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Notify;

use super::admin::RegistryError;

/// A load that has not finished yet.
#[derive(Clone, Debug, Serialize)]
pub struct Loading {
    pub plugin: String,
    pub since: DateTime<Utc>,
    /// Whether it is an upload (else a reload, a rollback or a database version).
    pub upload: bool,
}

/// The loads in progress, by plugin name.
#[derive(Default)]
pub(super) struct InProgress {
    loads: parking_lot::Mutex<BTreeMap<String, Loading>>,
    /// Signalled whenever a load ends.
    ended: Notify,
}

/// Plugin `name`'s turn to load, until dropped.
pub(super) struct LoadTurn<'a> {
    in_progress: &'a InProgress,
    name: String,
}

impl InProgress {
    /// Takes plugin `name`'s turn for a reload, a rollback or a database version, or says since
    /// when another load of it runs.
    pub(super) fn claim(&self, name: &str) -> Result<LoadTurn<'_>, RegistryError> {
        self.try_claim(name, false)
            .map_err(|running| RegistryError::Busy { plugin: running.plugin, since: running.since })
    }

    /// Takes plugin `name`'s turn for an upload, waiting for a load of another kind to end; `Busy`
    /// when another upload of it runs.
    pub(super) async fn claim_for_upload(&self, name: &str) -> Result<LoadTurn<'_>, RegistryError> {
        loop {
            let ended = self.ended.notified();
            match self.try_claim(name, true) {
                Ok(turn) => return Ok(turn),
                Err(running) if running.upload => {
                    return Err(RegistryError::Busy { plugin: running.plugin, since: running.since });
                }
                Err(_) => ended.await,
            }
        }
    }

    fn try_claim(&self, name: &str, upload: bool) -> Result<LoadTurn<'_>, Loading> {
        let mut loads = self.loads.lock();
        if let Some(running) = loads.get(name) {
            return Err(running.clone());
        }
        loads.insert(name.to_string(), Loading { plugin: name.to_string(), since: Utc::now(), upload });
        Ok(LoadTurn { in_progress: self, name: name.to_string() })
    }

    pub(super) fn list(&self) -> Vec<Loading> {
        self.loads.lock().values().cloned().collect()
    }
}

impl Drop for LoadTurn<'_> {
    fn drop(&mut self) {
        self.in_progress.loads.lock().remove(&self.name);
        self.in_progress.ended.notify_waiters();
    }
}
