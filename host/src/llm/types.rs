//! The Messages API request: conversation messages, content blocks and tool definitions, and their
//! exact wire form (`stream: true`, `cache_control` on the system prompt and on the last tool).
//! The same [`ContentBlock`] type carries an assistant turn back to Anthropic verbatim.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One call of the Messages API.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagesRequest {
    pub model: String,
    pub max_tokens: u32,
    /// Sent as one text block with `cache_control: ephemeral`; omitted when empty.
    pub system: String,
    pub messages: Vec<ApiMessage>,
    /// The last one gets `cache_control: ephemeral`; omitted when empty. Shared: every turn offers
    /// the same definitions, so they are built once per tool-set version, not copied per call.
    pub tools: Arc<[ToolDef]>,
}

/// Who wrote a message. The Messages API has no system role: the system prompt is separate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One message of the conversation sent to Claude.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiMessage {
    pub role: Role,
    pub content: Vec<ContentBlock>,
}

impl ApiMessage {
    /// A user message with one text block.
    pub fn user_text(text: impl Into<String>) -> ApiMessage {
        ApiMessage { role: Role::User, content: vec![ContentBlock::Text { text: text.into() }] }
    }
}

/// A content block as the Messages API writes it. Assistant blocks (thinking and signatures included)
/// must go back to Anthropic unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: String,
        #[serde(default, skip_serializing_if = "is_false")]
        is_error: bool,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A function tool offered to Claude.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

/// Who a call is made for: becomes Helicone headers when Helicone is enabled, and log fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    /// The authenticated user (`Helicone-User-Id`); empty when unknown.
    pub user_id: String,
    /// The chat session (`Helicone-Session-Id`).
    pub session_id: Option<String>,
    /// Our own request id (`Helicone-Property-Request-Id`), to join our logs with Helicone's.
    pub request_id: String,
}

const EPHEMERAL: CacheControl = CacheControl { kind: "ephemeral" };

#[derive(Serialize)]
struct CacheControl {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The request body exactly as it goes on the wire.
#[derive(Serialize)]
pub(crate) struct WireRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    stream: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<WireSystemBlock<'a>>,
    messages: &'a [ApiMessage],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
}

#[derive(Serialize)]
struct WireSystemBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    cache_control: CacheControl,
}

#[derive(Serialize)]
struct WireTool<'a> {
    #[serde(flatten)]
    tool: &'a ToolDef,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
}

impl MessagesRequest {
    /// The streaming request body, with the prompt-cache breakpoints on the system prompt and the last tool.
    pub(crate) fn wire(&self) -> WireRequest<'_> {
        let system = if self.system.is_empty() {
            Vec::new()
        } else {
            vec![WireSystemBlock { kind: "text", text: &self.system, cache_control: EPHEMERAL }]
        };
        let last = self.tools.len().saturating_sub(1);
        let tools = self
            .tools
            .iter()
            .enumerate()
            .map(|(i, tool)| WireTool { tool, cache_control: (i == last).then_some(EPHEMERAL) })
            .collect();
        WireRequest {
            model: &self.model,
            max_tokens: self.max_tokens,
            stream: true,
            system,
            messages: &self.messages,
            tools,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str) -> ToolDef {
        ToolDef { name: name.into(), description: format!("{name} tool"), input_schema: json!({"type":"object"}) }
    }

    #[test]
    fn the_body_streams_and_marks_system_and_last_tool_for_caching() {
        let req = MessagesRequest {
            model: "claude-test".into(),
            max_tokens: 4096,
            system: "You are a coach.".into(),
            messages: vec![ApiMessage::user_text("hi")],
            tools: vec![tool("a"), tool("b")].into(),
        };
        let body = serde_json::to_value(req.wire()).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "claude-test",
                "max_tokens": 4096,
                "stream": true,
                "system": [{"type":"text","text":"You are a coach.","cache_control":{"type":"ephemeral"}}],
                "messages": [{"role":"user","content":[{"type":"text","text":"hi"}]}],
                "tools": [
                    {"name":"a","description":"a tool","input_schema":{"type":"object"}},
                    {"name":"b","description":"b tool","input_schema":{"type":"object"},
                     "cache_control":{"type":"ephemeral"}}
                ]
            })
        );
    }

    #[test]
    fn an_empty_system_prompt_and_tool_list_are_omitted() {
        let req = MessagesRequest {
            model: "m".into(),
            max_tokens: 10,
            system: String::new(),
            messages: vec![ApiMessage::user_text("hi")],
            tools: Vec::new().into(),
        };
        let body = serde_json::to_value(req.wire()).unwrap();
        assert!(body.get("system").is_none());
        assert!(body.get("tools").is_none());
    }

    #[test]
    fn content_blocks_use_the_api_shapes() {
        let blocks = vec![
            ContentBlock::ToolUse { id: "toolu_1".into(), name: "search".into(), input: json!({"q":"legs"}) },
            ContentBlock::ToolResult { tool_use_id: "toolu_1".into(), content: "ok".into(), is_error: false },
            ContentBlock::ToolResult { tool_use_id: "toolu_2".into(), content: "boom".into(), is_error: true },
            ContentBlock::Thinking { thinking: "hmm".into(), signature: "sig".into() },
            ContentBlock::RedactedThinking { data: "opaque".into() },
        ];
        assert_eq!(
            serde_json::to_value(&blocks).unwrap(),
            json!([
                {"type":"tool_use","id":"toolu_1","name":"search","input":{"q":"legs"}},
                {"type":"tool_result","tool_use_id":"toolu_1","content":"ok"},
                {"type":"tool_result","tool_use_id":"toolu_2","content":"boom","is_error":true},
                {"type":"thinking","thinking":"hmm","signature":"sig"},
                {"type":"redacted_thinking","data":"opaque"}
            ])
        );
        let back: Vec<ContentBlock> = serde_json::from_value(serde_json::to_value(&blocks).unwrap()).unwrap();
        assert_eq!(back, blocks);
    }
}
