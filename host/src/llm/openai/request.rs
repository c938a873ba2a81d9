//! A Messages API request in Chat Completions form: the system prompt as the first message, each
//! assistant turn's `tool_use` blocks as `tool_calls` (arguments as a JSON string), each
//! `tool_result` as its own `role: "tool"` message right after the assistant message that asked
//! for it, and every tool definition as a `function` tool. Thinking blocks are Anthropic's alone
//! and are left out. The translation is total: any conversation Claude saw can be continued here.

use serde_json::{Value, json};

use crate::llm::types::{ApiMessage, ContentBlock, MessagesRequest, Role};

/// The streaming Chat Completions body for `request`, on `model`.
pub(crate) fn chat_body(request: &MessagesRequest, model: &str) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.is_empty() {
        messages.push(json!({"role": "system", "content": request.system}));
    }
    for message in &request.messages {
        translate(message, &mut messages);
    }
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_completion_tokens": request.max_tokens,
    });
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.input_schema,
                }})
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

/// Appends the Chat Completions messages of one Messages API message.
fn translate(message: &ApiMessage, out: &mut Vec<Value>) {
    let text: String = message
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    match message.role {
        Role::User => {
            // Tool results answer the previous assistant message, so they come first.
            for block in &message.content {
                if let ContentBlock::ToolResult { tool_use_id, content, is_error } = block {
                    let content = if *is_error { format!("Error: {content}") } else { content.clone() };
                    out.push(json!({"role": "tool", "tool_call_id": tool_use_id, "content": content}));
                }
            }
            if !text.is_empty() {
                out.push(json!({"role": "user", "content": text}));
            }
        }
        Role::Assistant => {
            let calls: Vec<Value> = message
                .content
                .iter()
                .filter_map(|block| match block {
                    ContentBlock::ToolUse { id, name, input } => Some(json!({
                        "id": id,
                        "type": "function",
                        "function": {"name": name, "arguments": input.to_string()},
                    })),
                    _ => None,
                })
                .collect();
            if text.is_empty() && calls.is_empty() {
                return;
            }
            let mut assistant = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { Value::String(text) }});
            if !calls.is_empty() {
                assistant["tool_calls"] = Value::Array(calls);
            }
            out.push(assistant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ToolDef;

    #[test]
    fn history_with_tool_calls_and_results_becomes_chat_messages() {
        let request = MessagesRequest {
            model: "claude-x".into(),
            max_tokens: 512,
            system: "You are a coach.".into(),
            messages: vec![
                ApiMessage::user_text("Find leg workouts"),
                ApiMessage {
                    role: Role::Assistant,
                    content: vec![
                        ContentBlock::Thinking { thinking: "hmm".into(), signature: "sig".into() },
                        ContentBlock::Text { text: "Searching.".into() },
                        ContentBlock::ToolUse {
                            id: "toolu_1".into(),
                            name: "search".into(),
                            input: json!({"q": "legs"}),
                        },
                        ContentBlock::ToolUse { id: "toolu_2".into(), name: "history".into(), input: json!({}) },
                    ],
                },
                ApiMessage {
                    role: Role::User,
                    content: vec![
                        ContentBlock::ToolResult {
                            tool_use_id: "toolu_1".into(),
                            content: "[]".into(),
                            is_error: false,
                        },
                        ContentBlock::ToolResult {
                            tool_use_id: "toolu_2".into(),
                            content: "boom".into(),
                            is_error: true,
                        },
                    ],
                },
            ],
            tools: vec![ToolDef {
                name: "search".into(),
                description: "Search.".into(),
                input_schema: json!({"type": "object"}),
            }]
            .into(),
        };
        assert_eq!(
            chat_body(&request, "gpt-test"),
            json!({
                "model": "gpt-test",
                "stream": true,
                "stream_options": {"include_usage": true},
                "max_completion_tokens": 512,
                "messages": [
                    {"role": "system", "content": "You are a coach."},
                    {"role": "user", "content": "Find leg workouts"},
                    {"role": "assistant", "content": "Searching.", "tool_calls": [
                        {"id": "toolu_1", "type": "function", "function": {"name": "search", "arguments": "{\"q\":\"legs\"}"}},
                        {"id": "toolu_2", "type": "function", "function": {"name": "history", "arguments": "{}"}},
                    ]},
                    {"role": "tool", "tool_call_id": "toolu_1", "content": "[]"},
                    {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: boom"},
                ],
                "tools": [{"type": "function", "function": {"name": "search", "description": "Search.", "parameters": {"type": "object"}}}],
            })
        );
    }

    #[test]
    fn an_assistant_message_of_only_tool_calls_has_null_content_and_empty_ones_are_dropped() {
        let mut out = Vec::new();
        translate(
            &ApiMessage {
                role: Role::Assistant,
                content: vec![ContentBlock::ToolUse { id: "c".into(), name: "n".into(), input: json!({}) }],
            },
            &mut out,
        );
        translate(
            &ApiMessage { role: Role::Assistant, content: vec![ContentBlock::RedactedThinking { data: "x".into() }] },
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["content"], Value::Null);
    }
}
