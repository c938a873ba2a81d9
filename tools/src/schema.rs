//! Checks what a plugin's `describe` returned before the registry offers it to the model: names
//! follow `[a-z][a-z0-9_]{0,63}` and are unique within the plugin, descriptions are present, and
//! every schema is JSON, an object schema at its root (`"type": "object"`, as the model's tool API
//! requires), and compiles (no unresolvable `$ref`, no invalid keyword values). The compiled
//! validators are kept: arguments are checked against them before every call.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use crate::bindings::FunctionSpec;
use crate::plugin::LoadedFunction;

/// The most functions one plugin may offer, and the largest schema text accepted.
const MAX_FUNCTIONS: usize = 64;
const MAX_SCHEMA_BYTES: usize = 64 * 1024;
const MAX_DESCRIPTION_BYTES: usize = 4096;

/// The validated functions, or every problem found (one line each).
pub fn validate(specs: Vec<FunctionSpec>) -> Result<Vec<LoadedFunction>, String> {
    let mut problems = Vec::new();
    let mut functions = Vec::new();
    let mut seen = HashSet::new();
    if specs.is_empty() {
        problems.push("describe returned no functions".to_string());
    }
    if specs.len() > MAX_FUNCTIONS {
        problems.push(format!("describe returned {} functions; at most {MAX_FUNCTIONS} are allowed", specs.len()));
    }
    for spec in specs.into_iter().take(MAX_FUNCTIONS) {
        let name = spec.name;
        if !valid_function_name(&name) {
            problems.push(format!("function {name:?}: the name must match [a-z][a-z0-9_]{{0,63}}"));
            continue;
        }
        if !seen.insert(name.clone()) {
            problems.push(format!("function {name}: described twice"));
            continue;
        }
        if spec.description.trim().is_empty() || spec.description.len() > MAX_DESCRIPTION_BYTES {
            problems.push(format!("function {name}: the description must be 1 to {MAX_DESCRIPTION_BYTES} bytes"));
            continue;
        }
        match compile(&spec.parameters_schema) {
            Ok((schema, validator)) => functions.push(LoadedFunction {
                name: Arc::from(name.as_str()),
                description: spec.description,
                schema,
                validator,
            }),
            Err(why) => problems.push(format!("function {name}: {why}")),
        }
    }
    if problems.is_empty() { Ok(functions) } else { Err(problems.join("; ")) }
}

fn compile(text: &str) -> Result<(Value, jsonschema::Validator), String> {
    if text.len() > MAX_SCHEMA_BYTES {
        return Err(format!("the schema is larger than {MAX_SCHEMA_BYTES} bytes"));
    }
    let schema: Value = serde_json::from_str(text).map_err(|err| format!("the schema is not JSON: {err}"))?;
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err("the schema's root must be {\"type\": \"object\", …}".to_string());
    }
    let validator = jsonschema::validator_for(&schema).map_err(|err| format!("the schema is invalid: {err}"))?;
    Ok((schema, validator))
}

/// Function names: `[a-z][a-z0-9_]{0,63}`.
pub fn valid_function_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, schema: &str) -> FunctionSpec {
        FunctionSpec { name: name.into(), description: "Does a thing.".into(), parameters_schema: schema.into() }
    }

    const OBJECT: &str = r#"{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}"#;

    #[test]
    fn good_functions_compile_and_validate_arguments() {
        let functions = validate(vec![spec("search", OBJECT)]).unwrap();
        assert!(functions[0].validate(&serde_json::json!({"q": "legs"})).is_ok());
        let err = functions[0].validate(&serde_json::json!({"q": 5})).unwrap_err();
        assert!(err.contains("/q"), "{err}");
        assert!(functions[0].validate(&serde_json::json!({})).unwrap_err().contains("\"q\" is a required property"));
    }

    #[test]
    fn each_mistake_is_named() {
        let cases = [
            (spec("Bad Name", OBJECT), "the name must match"),
            (spec("f", "{not json"), "not JSON"),
            (spec("f", r#"{"type":"array"}"#), "root must be"),
            (spec("f", r#"{"type":"object","properties":{"x":{"type":"no-such-type"}}}"#), "invalid"),
            (spec("f", r#"{"type":"object","properties":{"x":{"$ref":"https://example.com/s.json"}}}"#), "invalid"),
        ];
        for (spec, expected) in cases {
            let err = validate(vec![spec]).unwrap_err();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
        let err = validate(vec![spec("f", OBJECT), spec("f", OBJECT)]).unwrap_err();
        assert!(err.contains("described twice"), "{err}");
        assert!(validate(vec![]).unwrap_err().contains("no functions"));
    }
}
