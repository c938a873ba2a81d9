//! Assembling a streamed Claude response into the assistant turn: content blocks by index, tool
//! input JSON joined from its fragments and parsed once at block stop (an empty buffer is `{}`, the
//! no-argument-tool trap), thinking with its signature, the stop reason and the running-total usage.
//! The chat loop feeds it every event it forwards, and reads the turn at the end (also after an error:
//! `finish` then returns what arrived so far).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::stop_reason::StopReason;
use super::stream::{BlockStart, StreamEvent};
use super::types::ContentBlock;
use super::usage::Usage;

/// A tool call Claude asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolUseBlock {
    pub id: String,
    pub name: String,
    /// The parsed input object; `{}` when the input was empty or invalid.
    pub input: Value,
    /// Why the input could not be used (invalid JSON, not an object); the tool must not run then.
    pub input_error: Option<String>,
}

/// One finished (or interrupted) Claude response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssistantTurn {
    /// The blocks to send back to Claude verbatim, in index order. Empty text blocks (the API
    /// rejects them) and cut-off tool calls are left out.
    pub content: Vec<ContentBlock>,
    /// The tool calls to run, in index order (the cut-off one excluded).
    pub tool_uses: Vec<ToolUseBlock>,
    pub stop_reason: Option<StopReason>,
    pub usage: Usage,
    /// A tool_use block was cut off: it started but never stopped, or it was the last block of a
    /// `max_tokens` response and its input did not parse. It must not run.
    pub unfinished_tool_use: bool,
    /// From `message_start`.
    pub message_id: Option<String>,
    /// From `message_start`: the model that answered.
    pub model: Option<String>,
}

impl AssistantTurn {
    /// All text blocks joined: what the user saw.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|block| match block {
                ContentBlock::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

#[derive(Debug)]
enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        json: String,
        parsed: Option<Result<Value, String>>,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    RedactedThinking(String),
    /// Block types this client does not model; dropped from the turn.
    Other,
}

/// Feed it the events of one response with [`MessageAccumulator::push`], then call `finish`.
#[derive(Debug, Default)]
pub struct MessageAccumulator {
    blocks: BTreeMap<usize, Block>,
    stop_reason: Option<StopReason>,
    usage: Usage,
    message_id: Option<String>,
    model: Option<String>,
}

impl MessageAccumulator {
    pub fn new() -> MessageAccumulator {
        MessageAccumulator::default()
    }

    /// Takes one event into account. Deltas for a block that never started are ignored.
    pub fn push(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::MessageStart { id, model, usage } => {
                self.message_id = Some(id.clone());
                self.model = Some(model.clone());
                self.usage.apply(usage);
            }
            StreamEvent::ContentBlockStart { index, block } => {
                let block = match block {
                    BlockStart::Text => Block::Text(String::new()),
                    BlockStart::ToolUse { id, name } => {
                        Block::ToolUse { id: id.clone(), name: name.clone(), json: String::new(), parsed: None }
                    }
                    BlockStart::Thinking => Block::Thinking { thinking: String::new(), signature: String::new() },
                    BlockStart::RedactedThinking { data } => Block::RedactedThinking(data.clone()),
                    BlockStart::Other(_) => Block::Other,
                };
                self.blocks.insert(*index, block);
            }
            StreamEvent::TextDelta { index, text } => {
                if let Some(Block::Text(buffer)) = self.blocks.get_mut(index) {
                    buffer.push_str(text);
                }
            }
            StreamEvent::InputJsonDelta { index, partial_json } => {
                if let Some(Block::ToolUse { json, parsed: None, .. }) = self.blocks.get_mut(index) {
                    json.push_str(partial_json);
                }
            }
            StreamEvent::ThinkingDelta { index, thinking } => {
                if let Some(Block::Thinking { thinking: buffer, .. }) = self.blocks.get_mut(index) {
                    buffer.push_str(thinking);
                }
            }
            StreamEvent::SignatureDelta { index, signature } => {
                if let Some(Block::Thinking { signature: buffer, .. }) = self.blocks.get_mut(index) {
                    buffer.push_str(signature);
                }
            }
            StreamEvent::ContentBlockStop { index } => {
                if let Some(Block::ToolUse { json, parsed, .. }) = self.blocks.get_mut(index) {
                    parsed.get_or_insert_with(|| parse_tool_input(json));
                }
            }
            StreamEvent::MessageDelta { stop_reason, usage } => {
                if stop_reason.is_some() {
                    self.stop_reason = stop_reason.clone();
                }
                self.usage.apply(usage);
            }
            StreamEvent::MessageStop | StreamEvent::Ping => {}
        }
    }

    /// The turn as far as it arrived.
    pub fn finish(self) -> AssistantTurn {
        let hit_max_tokens = self.stop_reason == Some(StopReason::MaxTokens);
        let last_index = self.blocks.keys().next_back().copied();
        let mut turn = AssistantTurn {
            stop_reason: self.stop_reason,
            usage: self.usage,
            message_id: self.message_id,
            model: self.model,
            ..AssistantTurn::default()
        };
        for (index, block) in self.blocks {
            match block {
                Block::Text(text) if text.is_empty() => {}
                Block::Text(text) => turn.content.push(ContentBlock::Text { text }),
                Block::ToolUse { id, name, json: _, parsed } => {
                    let cut_off = match &parsed {
                        None => true,
                        Some(Err(_)) => hit_max_tokens && Some(index) == last_index,
                        Some(Ok(_)) => false,
                    };
                    if cut_off {
                        turn.unfinished_tool_use = true;
                        continue;
                    }
                    let (input, input_error) = match parsed {
                        Some(Ok(input)) => (input, None),
                        Some(Err(error)) => (Value::Object(Map::new()), Some(error)),
                        None => unreachable!("a tool block without a stop is cut off"),
                    };
                    turn.content.push(ContentBlock::ToolUse {
                        id: id.clone(),
                        name: name.clone(),
                        input: input.clone(),
                    });
                    turn.tool_uses.push(ToolUseBlock { id, name, input, input_error });
                }
                Block::Thinking { thinking, signature } => {
                    turn.content.push(ContentBlock::Thinking { thinking, signature })
                }
                Block::RedactedThinking(data) => turn.content.push(ContentBlock::RedactedThinking { data }),
                Block::Other => {}
            }
        }
        turn
    }
}

/// The input object of a tool call from its joined fragments. Empty or blank means no arguments.
fn parse_tool_input(json: &str) -> Result<Value, String> {
    if json.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(json) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err("tool input is not a JSON object".to_string()),
        Err(err) => Err(format!("tool input is not valid JSON: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::UsageDelta;
    use serde_json::json;

    fn start(index: usize, block: BlockStart) -> StreamEvent {
        StreamEvent::ContentBlockStart { index, block }
    }
    fn tool(id: &str, name: &str) -> BlockStart {
        BlockStart::ToolUse { id: id.into(), name: name.into() }
    }
    fn json_delta(index: usize, partial_json: &str) -> StreamEvent {
        StreamEvent::InputJsonDelta { index, partial_json: partial_json.into() }
    }
    fn text_delta(index: usize, text: &str) -> StreamEvent {
        StreamEvent::TextDelta { index, text: text.into() }
    }
    fn stop(index: usize) -> StreamEvent {
        StreamEvent::ContentBlockStop { index }
    }
    fn message_delta(stop_reason: &str) -> StreamEvent {
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::parse(stop_reason)), usage: UsageDelta::default() }
    }
    fn run(events: &[StreamEvent]) -> AssistantTurn {
        let mut acc = MessageAccumulator::new();
        events.iter().for_each(|e| acc.push(e));
        acc.finish()
    }

    #[test]
    fn text_and_parallel_tool_calls_are_assembled_in_index_order() {
        let turn = run(&[
            StreamEvent::MessageStart {
                id: "msg_1".into(),
                model: "claude-x".into(),
                usage: UsageDelta { input_tokens: Some(10), output_tokens: Some(1), ..UsageDelta::default() },
            },
            start(0, BlockStart::Text),
            text_delta(0, "Let me "),
            StreamEvent::Ping,
            text_delta(0, "check."),
            stop(0),
            start(1, tool("toolu_a", "search")),
            start(2, tool("toolu_b", "history")),
            json_delta(2, ""),
            json_delta(1, "{\"qu"),
            json_delta(1, "ery\": \"l"),
            json_delta(1, "égs\"}"),
            stop(2),
            stop(1),
            StreamEvent::MessageDelta {
                stop_reason: Some(StopReason::ToolUse),
                usage: UsageDelta { output_tokens: Some(42), ..UsageDelta::default() },
            },
            StreamEvent::MessageStop,
        ]);
        assert_eq!(turn.text(), "Let me check.");
        assert_eq!(
            turn.content,
            vec![
                ContentBlock::Text { text: "Let me check.".into() },
                ContentBlock::ToolUse { id: "toolu_a".into(), name: "search".into(), input: json!({"query":"légs"}) },
                ContentBlock::ToolUse { id: "toolu_b".into(), name: "history".into(), input: json!({}) },
            ]
        );
        assert_eq!(turn.tool_uses.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["toolu_a", "toolu_b"]);
        assert!(turn.tool_uses.iter().all(|t| t.input_error.is_none()));
        assert_eq!(turn.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(turn.usage, Usage { input_tokens: 10, output_tokens: 42, ..Usage::default() });
        assert_eq!(turn.message_id.as_deref(), Some("msg_1"));
        assert!(!turn.unfinished_tool_use);
    }

    #[test]
    fn an_empty_or_blank_tool_input_is_an_empty_object() {
        let turn = run(&[start(0, tool("t1", "a")), json_delta(0, ""), stop(0), start(1, tool("t2", "b")), stop(1)]);
        assert_eq!(turn.tool_uses[0].input, json!({}));
        assert_eq!(turn.tool_uses[1].input, json!({}));
        let turn = run(&[start(0, tool("t1", "a")), json_delta(0, "  \n "), stop(0)]);
        assert_eq!(turn.tool_uses[0].input, json!({}));
        assert_eq!(turn.tool_uses[0].input_error, None);
    }

    #[test]
    fn invalid_tool_input_is_recorded_on_that_block_only() {
        let turn = run(&[
            start(0, tool("bad", "a")),
            json_delta(0, "{\"x\": "),
            stop(0),
            start(1, tool("array", "b")),
            json_delta(1, "[1]"),
            stop(1),
            start(2, tool("good", "c")),
            json_delta(2, "{\"y\":1}"),
            stop(2),
            message_delta("tool_use"),
        ]);
        assert!(turn.tool_uses[0].input_error.as_deref().unwrap().contains("not valid JSON"));
        assert_eq!(turn.tool_uses[0].input, json!({}));
        assert!(turn.tool_uses[1].input_error.as_deref().unwrap().contains("not a JSON object"));
        assert_eq!(turn.tool_uses[2].input_error, None);
        assert!(!turn.unfinished_tool_use);
    }

    #[test]
    fn a_tool_call_that_never_stopped_is_cut_off_and_not_returned() {
        let turn = run(&[
            start(0, BlockStart::Text),
            text_delta(0, "Here goes"),
            stop(0),
            start(1, tool("toolu_cut", "generate_workout")),
            json_delta(1, "{\"description\": \"a long"),
            message_delta("max_tokens"),
            StreamEvent::MessageStop,
        ]);
        assert!(turn.unfinished_tool_use);
        assert!(turn.tool_uses.is_empty());
        assert_eq!(turn.content, vec![ContentBlock::Text { text: "Here goes".into() }]);
        assert_eq!(turn.stop_reason, Some(StopReason::MaxTokens));
    }

    #[test]
    fn a_stopped_but_truncated_last_tool_call_under_max_tokens_is_cut_off() {
        let turn =
            run(&[start(0, tool("t", "a")), json_delta(0, "{\"a\": [1, 2"), stop(0), message_delta("max_tokens")]);
        assert!(turn.unfinished_tool_use);
        assert!(turn.tool_uses.is_empty() && turn.content.is_empty());
    }

    #[test]
    fn thinking_keeps_its_signature_and_redacted_thinking_its_data() {
        let turn = run(&[
            start(0, BlockStart::Thinking),
            StreamEvent::ThinkingDelta { index: 0, thinking: "Let me ".into() },
            StreamEvent::ThinkingDelta { index: 0, thinking: "think.".into() },
            StreamEvent::SignatureDelta { index: 0, signature: "EqQBCgIYAhIM".into() },
            stop(0),
            start(1, BlockStart::RedactedThinking { data: "opaque".into() }),
            stop(1),
            start(2, BlockStart::Other(json!({"type":"server_tool_use"}))),
            stop(2),
            start(3, BlockStart::Text),
            stop(3),
        ]);
        assert_eq!(
            turn.content,
            vec![
                ContentBlock::Thinking { thinking: "Let me think.".into(), signature: "EqQBCgIYAhIM".into() },
                ContentBlock::RedactedThinking { data: "opaque".into() },
            ]
        );
    }

    #[test]
    fn deltas_for_unknown_or_mismatched_blocks_are_ignored() {
        let turn = run(&[
            text_delta(5, "ghost"),
            start(0, BlockStart::Text),
            json_delta(0, "{}"),
            text_delta(0, "real"),
            stop(0),
            start(1, tool("t", "a")),
            json_delta(1, "{}"),
            stop(1),
            json_delta(1, "late"),
        ]);
        assert_eq!(turn.text(), "real");
        assert_eq!(turn.tool_uses[0].input, json!({}));
        assert_eq!(turn.tool_uses[0].input_error, None);
    }
}
