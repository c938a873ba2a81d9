//! The request checks of the real Messages API that a chat loop can get wrong, with the API's own
//! wording: a request the real API would refuse with a 400 is refused here too, so tests catch it.
//! (tool_use/tool_result pairing and order, empty text blocks, roles, tool definitions, streaming.)

use std::collections::HashSet;

use serde_json::Value;

/// `Err` carries the `invalid_request_error` message.
pub(crate) fn validate(body: &Value) -> Result<(), String> {
    let body = body.as_object().ok_or("request body must be a JSON object")?;
    match body.get("model").and_then(Value::as_str) {
        Some(model) if !model.is_empty() => {}
        _ => return Err("model: Field required".into()),
    }
    match body.get("max_tokens").and_then(Value::as_u64) {
        Some(n) if n >= 1 => {}
        _ => return Err("max_tokens: Field required (a positive integer)".into()),
    }
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        return Err("stand-in: only streaming requests (\"stream\": true) are supported".into());
    }
    let mut breakpoints = 0;
    if let Some(system) = body.get("system") {
        breakpoints += validate_system(system)?;
    }
    if let Some(tools) = body.get("tools") {
        breakpoints += validate_tools(tools)?;
    }
    let messages = body.get("messages").and_then(Value::as_array).ok_or("messages: Field required")?;
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    breakpoints += validate_messages(messages)?;
    if breakpoints > 4 {
        return Err(format!("A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}."));
    }
    Ok(())
}

fn cache_breakpoint(block: &Value) -> usize {
    usize::from(block.get("cache_control").is_some())
}

fn validate_system(system: &Value) -> Result<usize, String> {
    match system {
        Value::String(_) => Ok(0),
        Value::Array(blocks) => {
            let mut breakpoints = 0;
            for (i, block) in blocks.iter().enumerate() {
                if block.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(format!("system.{i}.type: Input should be 'text'"));
                }
                if block.get("text").and_then(Value::as_str).is_none_or(str::is_empty) {
                    return Err(format!("system.{i}: text content blocks must be non-empty"));
                }
                breakpoints += cache_breakpoint(block);
            }
            Ok(breakpoints)
        }
        _ => Err("system: Input should be a valid string or list of text blocks".into()),
    }
}

fn validate_tools(tools: &Value) -> Result<usize, String> {
    let tools = tools.as_array().ok_or("tools: Input should be a valid list")?;
    let mut names = HashSet::new();
    let mut breakpoints = 0;
    for (i, tool) in tools.iter().enumerate() {
        let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
        let valid_name = !name.is_empty()
            && name.len() <= 128
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(format!("tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"));
        }
        if !names.insert(name) {
            return Err(format!("tools: Tool names must be unique. Duplicate: {name}"));
        }
        if tool.get("input_schema").and_then(|s| s.get("type")).and_then(Value::as_str) != Some("object") {
            return Err(format!("tools.{i}.custom.input_schema.type: Input should be 'object'"));
        }
        breakpoints += cache_breakpoint(tool);
    }
    Ok(breakpoints)
}

fn blocks_of(message: &Value) -> Vec<Value> {
    match message.get("content") {
        Some(Value::String(text)) => vec![serde_json::json!({"type":"text","text":text})],
        Some(Value::Array(blocks)) => blocks.clone(),
        _ => Vec::new(),
    }
}

fn kind(block: &Value) -> &str {
    block.get("type").and_then(Value::as_str).unwrap_or_default()
}

fn validate_messages(messages: &[Value]) -> Result<usize, String> {
    let mut breakpoints = 0;
    // The tool_use ids of the previous assistant message, which the next message must answer.
    let mut open_tool_uses: Vec<String> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or_default();
        if role != "user" && role != "assistant" {
            return Err(format!("messages.{i}.role: Input should be 'user' or 'assistant'"));
        }
        if i == 0 && role != "user" {
            return Err("messages: the first message must use the \"user\" role".into());
        }
        let content = message.get("content");
        if !matches!(content, Some(Value::String(_)) | Some(Value::Array(_))) {
            return Err(format!("messages.{i}.content: Field required"));
        }
        let blocks = blocks_of(message);
        if blocks.is_empty() && (role == "user" || i + 1 < messages.len()) {
            return Err(format!(
                "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
            ));
        }
        for (j, block) in blocks.iter().enumerate() {
            breakpoints += cache_breakpoint(block);
            validate_block(i, j, role, block)?;
        }

        let results: Vec<&str> = blocks
            .iter()
            .filter(|b| kind(b) == "tool_result")
            .filter_map(|b| b.get("tool_use_id").and_then(Value::as_str))
            .collect();
        if !open_tool_uses.is_empty() {
            let missing: Vec<&str> =
                open_tool_uses.iter().map(String::as_str).filter(|id| !results.contains(id)).collect();
            if role != "user" || !missing.is_empty() {
                let ids = if role == "user" { missing.join(", ") } else { open_tool_uses.join(", ") };
                return Err(format!(
                    "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {ids}. \
                     Each `tool_use` block must have a corresponding `tool_result` block in the next message."
                ));
            }
            let first_other = blocks.iter().position(|b| kind(b) != "tool_result").unwrap_or(blocks.len());
            if blocks[first_other..].iter().any(|b| kind(b) == "tool_result") {
                return Err(format!(
                    "messages.{i}: `tool_result` blocks must come first in the user message, before any other content"
                ));
            }
        }
        if let Some(unexpected) = results.iter().find(|id| !open_tool_uses.iter().any(|open| open == *id)) {
            return Err(format!(
                "messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: {unexpected}. \
                 Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
            ));
        }
        open_tool_uses = if role == "assistant" {
            blocks
                .iter()
                .filter(|b| kind(b) == "tool_use")
                .filter_map(|b| b.get("id").and_then(Value::as_str).map(str::to_string))
                .collect()
        } else {
            Vec::new()
        };
    }
    if !open_tool_uses.is_empty() {
        return Err(format!(
            "messages: `tool_use` ids were found without `tool_result` blocks immediately after: {}. \
             Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
            open_tool_uses.join(", ")
        ));
    }
    Ok(breakpoints)
}

fn validate_block(i: usize, j: usize, role: &str, block: &Value) -> Result<(), String> {
    let at = format!("messages.{i}.content.{j}");
    let string = |key: &str| block.get(key).and_then(Value::as_str);
    match (kind(block), role) {
        ("text", _) => match string("text") {
            Some(text) if !text.is_empty() => Ok(()),
            _ => Err(format!("{at}: text content blocks must be non-empty")),
        },
        ("tool_use", "assistant") => {
            if string("id").is_none_or(str::is_empty) || string("name").is_none_or(str::is_empty) {
                return Err(format!("{at}.tool_use: id and name are required"));
            }
            if !block.get("input").is_some_and(Value::is_object) {
                return Err(format!("{at}.tool_use.input: Input should be a valid dictionary"));
            }
            Ok(())
        }
        ("tool_result", "user") => {
            if string("tool_use_id").is_none_or(str::is_empty) {
                return Err(format!("{at}.tool_result.tool_use_id: Field required"));
            }
            match block.get("content") {
                None | Some(Value::String(_)) | Some(Value::Array(_)) => {}
                _ => return Err(format!("{at}.tool_result.content: Input should be a valid string or list")),
            }
            match block.get("is_error") {
                None | Some(Value::Bool(_)) => Ok(()),
                _ => Err(format!("{at}.tool_result.is_error: Input should be a valid boolean")),
            }
        }
        ("thinking", "assistant") => match (string("thinking"), string("signature")) {
            (Some(_), Some(signature)) if !signature.is_empty() => Ok(()),
            _ => Err(format!("{at}.thinking: thinking and a non-empty signature are required")),
        },
        ("redacted_thinking", "assistant") => match string("data") {
            Some(_) => Ok(()),
            None => Err(format!("{at}.redacted_thinking.data: Field required")),
        },
        ("image" | "document", "user") => Ok(()),
        (other, role) => Err(format!("{at}: a `{other}` block is not allowed in a {role} message")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(messages: Value) -> Value {
        json!({"model":"m","max_tokens":10,"stream":true,"messages":messages})
    }

    #[test]
    fn a_complete_tool_round_trip_is_valid() {
        let body = request(json!([
            {"role":"user","content":"find legs"},
            {"role":"assistant","content":[
                {"type":"text","text":"Searching"},
                {"type":"tool_use","id":"t1","name":"search","input":{"q":"legs"}},
                {"type":"tool_use","id":"t2","name":"history","input":{}}]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"t2","content":"none"},
                {"type":"tool_result","tool_use_id":"t1","content":"boom","is_error":true}]},
            {"role":"assistant","content":[{"type":"text","text":"Done"}]},
            {"role":"user","content":"thanks"}
        ]));
        assert_eq!(validate(&body), Ok(()));
    }

    #[test]
    fn a_missing_tool_result_is_refused_like_the_api() {
        let body = request(json!([
            {"role":"user","content":"x"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"a","input":{}}]},
            {"role":"user","content":[{"type":"text","text":"where is it"}]}
        ]));
        assert!(validate(&body).unwrap_err().contains("`tool_use` ids were found without `tool_result`"));
    }

    #[test]
    fn results_after_text_or_unknown_ids_or_empty_text_are_refused() {
        let after_text = request(json!([
            {"role":"user","content":"x"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"a","input":{}}]},
            {"role":"user","content":[{"type":"text","text":"hi"},{"type":"tool_result","tool_use_id":"t1","content":"r"}]}
        ]));
        assert!(validate(&after_text).unwrap_err().contains("must come first"));
        let unknown = request(json!([
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"ghost","content":"r"}]}
        ]));
        assert!(validate(&unknown).unwrap_err().contains("unexpected `tool_use_id`"));
        let empty = request(json!([{"role":"user","content":[{"type":"text","text":""}]}]));
        assert!(validate(&empty).unwrap_err().contains("non-empty"));
    }

    #[test]
    fn non_streaming_and_malformed_requests_are_refused() {
        assert!(validate(&json!({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}]})).is_err());
        assert!(validate(&json!([])).is_err());
        assert!(validate(&request(json!([]))).is_err());
        assert!(validate(&request(json!([{"role":"assistant","content":"x"}]))).is_err());
        let empty_assistant = request(json!([
            {"role":"user","content":"x"},{"role":"assistant","content":[]},{"role":"user","content":"y"}
        ]));
        assert!(validate(&empty_assistant).unwrap_err().contains("non-empty content"));
    }
}
