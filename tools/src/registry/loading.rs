//! Loads in progress: the slow steps of a load (compile, `describe`) run outside the registry's
//! lock, so at most one load per plugin may run at a time; each is listed while it runs, and a
//! second load of the same plugin meanwhile is refused ([`RegistryError::Busy`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::admin::RegistryError;

/// A load that has not finished yet.
#[derive(Clone, Debug, Serialize)]
pub struct Loading {
    pub plugin: String,
    pub since: DateTime<Utc>,
}

/// The loads in progress, by plugin name.
#[derive(Default)]
pub(super) struct InProgress {
    loads: parking_lot::Mutex<BTreeMap<String, DateTime<Utc>>>,
}

/// Plugin `name`'s turn to load, until dropped.
pub(super) struct LoadTurn<'a> {
    in_progress: &'a InProgress,
    name: String,
}

impl InProgress {
    /// Takes plugin `name`'s turn, or says since when another load of it runs.
    pub(super) fn claim(&self, name: &str) -> Result<LoadTurn<'_>, RegistryError> {
        let mut loads = self.loads.lock();
        if let Some(since) = loads.get(name) {
            return Err(RegistryError::Busy { plugin: name.to_string(), since: *since });
        }
        loads.insert(name.to_string(), Utc::now());
        Ok(LoadTurn { in_progress: self, name: name.to_string() })
    }

    pub(super) fn list(&self) -> Vec<Loading> {
        self.loads.lock().iter().map(|(plugin, since)| Loading { plugin: plugin.clone(), since: *since }).collect()
    }
}

impl Drop for LoadTurn<'_> {
    fn drop(&mut self) {
        self.in_progress.loads.lock().remove(&self.name);
    }
}
