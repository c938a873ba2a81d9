//! Hostile: describes its function wrongly, in the way its `variant` setting names, written against
//! the raw bindings (the SDK cannot produce these mistakes):
//! `invalid_schema` (default: a schema that does not compile), `not_json`, `root_not_object`,
//! `bad_name`, `duplicate_name`.

use amakaflow_tool_sdk::bindings::Guest;
use amakaflow_tool_sdk::bindings::amakaflow::tool::host;
use amakaflow_tool_sdk::bindings::amakaflow::tool::types::{CallContext, FunctionSpec, ToolError};

struct BadSchema;

fn spec(name: &str, schema: &str) -> FunctionSpec {
    FunctionSpec {
        name: name.to_string(),
        description: "Badly described.".to_string(),
        parameters_schema: schema.to_string(),
    }
}

impl Guest for BadSchema {
    fn describe() -> Vec<FunctionSpec> {
        let good = r#"{"type":"object","properties":{}}"#;
        match host::config("variant").as_deref().unwrap_or("invalid_schema") {
            "not_json" => vec![spec("bad_schema", "{not json")],
            "root_not_object" => vec![spec("bad_schema", r#"{"type":"array"}"#)],
            "bad_name" => vec![spec("Bad Name!", good)],
            "duplicate_name" => vec![spec("bad_schema", good), spec("bad_schema", good)],
            _ => vec![spec("bad_schema", r#"{"type":"object","properties":{"x":{"type":"no-such-type"}}}"#)],
        }
    }

    fn call(_context: CallContext, _function: String, _arguments: String) -> Result<String, ToolError> {
        Ok("unreachable: the host never loads this plugin".to_string())
    }
}

amakaflow_tool_sdk::bindings::__export_tool_world!(BadSchema with_types_in amakaflow_tool_sdk::bindings);
