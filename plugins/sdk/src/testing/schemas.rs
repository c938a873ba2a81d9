//! The schemas a plugin derives, held to the ones stored beside it (`tests/schemas/<function>.json`):
//! a change to an argument type that changes what the model sees fails a test instead of shipping.

use std::path::Path;

use serde_json::Value;

use crate::Plugin;

/// The schema stored in `dir/<function>.json`.
pub fn stored_schema(dir: impl AsRef<Path>, function: &str) -> Value {
    let path = dir.as_ref().join(format!("{function}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Asserts that every function of `plugin` derives exactly the schema stored for it in `dir`
/// (the same JSON, properties in the same order) and that `dir` holds no schema of a function the
/// plugin no longer has.
pub fn assert_schemas_match(plugin: &Plugin, dir: impl AsRef<Path>) {
    let dir = dir.as_ref();
    let names: Vec<&str> = plugin.names().collect();
    for name in &names {
        let derived = plugin.schema(name).expect("listed function");
        let stored = stored_schema(dir, name);
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        assert!(
            derived == stored && property_order(&derived) == property_order(&stored),
            "{name}: the derived schema differs from {}/{name}.json\nderived: {}\nstored: {}",
            dir.display(),
            pretty(&derived),
            pretty(&stored)
        );
    }
    let entries = std::fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".json") {
            assert!(names.contains(&name), "{}/{file}: the plugin has no function {name}", dir.display());
        }
    }
}

/// The order the model reads the arguments in.
fn property_order(schema: &Value) -> Vec<&str> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default()
}
