//! `tools/list`: the registry's functions as MCP tools (name, description, the JSON Schema of the
//! arguments), a page at a time. The cursor is the position of the page's first tool; a cursor
//! that is not one this server gave is refused with the specification's invalid-params error.

use std::sync::Arc;

use rmcp::model::{CacheScope, ErrorData, ListToolsResult, Tool};
use serde_json::Value;
use tools::FunctionInfo;

/// Tools per page: the 27 tools fit in one, a much larger tool set is cut in pages.
pub const PAGE_SIZE: usize = 50;

/// The page of `functions` starting at `cursor` (the first page without one).
pub fn page(functions: &[FunctionInfo], cursor: Option<&str>) -> Result<ListToolsResult, ErrorData> {
    let start = match cursor {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .ok()
            .filter(|start| *start < functions.len())
            .ok_or_else(|| ErrorData::invalid_params(format!("Invalid cursor: {cursor:?}"), None))?,
    };
    let end = (start + PAGE_SIZE).min(functions.len());
    let mut result = ListToolsResult::with_all_items(functions[start..end].iter().map(tool).collect());
    result.next_cursor = (end < functions.len()).then(|| end.to_string());
    // The list is per user and changes with every reload: a client may not keep it for later.
    result.ttl_ms = Some(0);
    result.cache_scope = Some(CacheScope::Private);
    Ok(result)
}

/// One function as an MCP tool.
fn tool(function: &FunctionInfo) -> Tool {
    let schema = match &function.parameters {
        Value::Object(schema) => schema.clone(),
        // The registry only loads object schemas; anything else is offered as "no arguments".
        _ => serde_json::Map::from_iter([("type".to_string(), Value::from("object"))]),
    };
    Tool::new(function.name.clone(), function.description.clone(), Arc::new(schema))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn functions(n: usize) -> Vec<FunctionInfo> {
        (0..n)
            .map(|i| FunctionInfo {
                name: format!("f{i}"),
                description: format!("function {i}"),
                parameters: json!({"type": "object", "properties": {}}),
                plugin: "p".to_string(),
            })
            .collect()
    }

    #[test]
    fn pages_follow_each_other_until_the_last() {
        let all = functions(PAGE_SIZE + 3);
        let first = page(&all, None).unwrap();
        assert_eq!(first.tools.len(), PAGE_SIZE);
        let second = page(&all, first.next_cursor.as_deref()).unwrap();
        assert_eq!(second.tools.len(), 3);
        assert_eq!(second.tools[0].name, format!("f{PAGE_SIZE}"));
        assert_eq!(second.next_cursor, None);
    }

    #[test]
    fn a_cursor_this_server_never_gave_is_invalid_params() {
        let all = functions(3);
        for cursor in ["abc", "-1", "3", "99999999999999999999999"] {
            let error = page(&all, Some(cursor)).unwrap_err();
            assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_PARAMS, "{cursor}");
        }
    }
}
