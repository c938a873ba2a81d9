//! The values manifests interpolate: `${setting:NAME}` (plain text, anywhere) and
//! `${secret:NAME}` (only in egress headers of exact origins, see [`crate::manifest`]). A plugin's
//! values come from the operators' store (the admin API writes it; every instance loads it, secrets
//! opened with `PLUGIN_SECRETS_KEY`), falling back to the host's defaults (the runbook variables the
//! service already reads, and `OPENAI_API_KEY`), so existing deployments keep working unchanged and
//! a new plugin needs no host change. Formatting never shows a secret's value.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

pub use store::ValueKind;

/// Named settings and secrets: one plugin's stored values, or the host's defaults.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PluginValues {
    pub settings: HashMap<String, String>,
    pub secrets: HashMap<String, String>,
    /// For a host default secret, the one origin it may be sent to (`OPENAI_API_KEY`: the origin of
    /// `OPENAI_BASE_URL`), so no plugin can carry the host's key to an origin of its choosing. A
    /// value the operator stored for a plugin is the operator's grant and has no such bound.
    pub secret_origins: HashMap<String, String>,
}

impl PluginValues {
    pub fn get(&self, kind: ValueKind, name: &str) -> Option<&str> {
        match kind {
            ValueKind::Setting => self.settings.get(name),
            ValueKind::Secret => self.secrets.get(name),
        }
        .map(String::as_str)
    }
}

impl fmt::Debug for PluginValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets: BTreeSet<&String> = self.secrets.keys().collect();
        f.debug_struct("PluginValues").field("settings", &self.settings).field("secrets", &secrets).finish()
    }
}

/// What the manifest of one plugin sees: its stored values over the host's defaults.
#[derive(Clone, Copy, Debug)]
pub struct ValueLookup<'a> {
    pub stored: Option<&'a PluginValues>,
    pub defaults: &'a PluginValues,
}

impl<'a> ValueLookup<'a> {
    pub fn get(&self, kind: ValueKind, name: &str) -> Option<&'a str> {
        self.stored.and_then(|stored| stored.get(kind, name)).or_else(|| self.defaults.get(kind, name))
    }

    /// The only origin secret `name` may be sent to, when it is a host default bound to one.
    pub fn secret_origin(&self, name: &str) -> Option<&'a str> {
        if self.stored.is_some_and(|stored| stored.secrets.contains_key(name)) {
            return None;
        }
        self.defaults.secret_origins.get(name).map(String::as_str)
    }
}

/// Every plugin's stored values as last read from the database, and the generation they were read at.
#[derive(Debug, Default)]
pub struct StoredValues {
    /// -1: never read.
    pub generation: i64,
    pub by_plugin: HashMap<String, PluginValues>,
}

impl StoredValues {
    pub fn new(generation: i64, rows: Vec<store::PluginValue>) -> StoredValues {
        let mut by_plugin: HashMap<String, PluginValues> = HashMap::new();
        for row in rows {
            let values = by_plugin.entry(row.plugin).or_default();
            match row.kind {
                ValueKind::Setting => values.settings.insert(row.name, row.value),
                ValueKind::Secret => values.secrets.insert(row.name, row.value),
            };
        }
        StoredValues { generation, by_plugin }
    }

    /// The plugins whose values differ in `newer`, by name.
    pub fn changed_in(&self, newer: &StoredValues) -> Vec<String> {
        let names: BTreeSet<&String> = self.by_plugin.keys().chain(newer.by_plugin.keys()).collect();
        names.into_iter().filter(|name| self.by_plugin.get(*name) != newer.by_plugin.get(*name)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(plugin: &str, kind: ValueKind, name: &str, value: &str) -> store::PluginValue {
        store::PluginValue { plugin: plugin.into(), kind, name: name.into(), value: value.into() }
    }

    #[test]
    fn stored_values_win_over_the_defaults() {
        let stored = StoredValues::new(1, vec![row("a", ValueKind::Setting, "URL", "http://stored")]);
        let defaults = PluginValues {
            settings: HashMap::from([("URL".into(), "http://default".into()), ("OTHER".into(), "o".into())]),
            secrets: HashMap::from([("KEY".into(), "k".into())]),
            ..PluginValues::default()
        };
        let lookup = ValueLookup { stored: stored.by_plugin.get("a"), defaults: &defaults };
        assert_eq!(lookup.get(ValueKind::Setting, "URL"), Some("http://stored"));
        assert_eq!(lookup.get(ValueKind::Setting, "OTHER"), Some("o"));
        assert_eq!(lookup.get(ValueKind::Secret, "KEY"), Some("k"));
        assert_eq!(lookup.get(ValueKind::Secret, "URL"), None, "a setting is not a secret");
    }

    #[test]
    fn only_plugins_whose_values_differ_are_changed() {
        let old =
            StoredValues::new(1, vec![row("a", ValueKind::Secret, "K", "1"), row("b", ValueKind::Setting, "S", "x")]);
        let new = StoredValues::new(
            2,
            vec![
                row("a", ValueKind::Secret, "K", "2"),
                row("b", ValueKind::Setting, "S", "x"),
                row("c", ValueKind::Setting, "S", "y"),
            ],
        );
        assert_eq!(old.changed_in(&new), ["a", "c"]);
        assert_eq!(new.changed_in(&StoredValues::default()), ["a", "b", "c"]);
    }

    #[test]
    fn formatting_never_shows_a_secret() {
        let values =
            PluginValues { secrets: HashMap::from([("KEY".into(), "sk-live".into())]), ..PluginValues::default() };
        let shown = format!("{values:?}");
        assert!(shown.contains("KEY") && !shown.contains("sk-live"), "{shown}");
    }
}
