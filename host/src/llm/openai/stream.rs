//! Chat Completions chunks translated into Anthropic's stream events, so the chat loop (and the
//! accumulator) reads a fallback answer exactly like a Claude one: the first chunk opens the
//! message, text opens a text block, each streamed tool call (by its `index`) opens a `tool_use`
//! block with its id and name and appends its `arguments` fragments as input JSON, and `[DONE]`
//! closes the blocks, maps `finish_reason` to a stop reason and reports the usage chunk.
//! A stream that ends without `[DONE]`, an `error` chunk, a stall or a transport failure is one
//! final error, as on the Anthropic side.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use crate::llm::error::LlmError;
use crate::llm::stop_reason::StopReason;
use crate::llm::stream::{BlockStart, MessageStream, StreamEvent, with_stall_timeout};
use crate::llm::usage::UsageDelta;

/// One `data:` chunk of a streamed completion (the fields the translation needs).
#[derive(Deserialize, Default)]
struct Chunk {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    /// A mid-stream failure: `{"error": {"message", "type", …}}`.
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallDelta>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    index: usize,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize, Default)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: u64,
}

/// OpenAI's `finish_reason` as the stop reason Claude would have given.
pub(crate) fn stop_reason(finish_reason: &str) -> StopReason {
    match finish_reason {
        "stop" => StopReason::EndTurn,
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::Refusal,
        other => StopReason::Other(other.to_string()),
    }
}

/// The translation state of one response.
#[derive(Default)]
pub(crate) struct Translator {
    started: bool,
    /// Content blocks opened so far, in index order.
    next_index: usize,
    /// The open text block, if text is being streamed now.
    text_block: Option<usize>,
    /// OpenAI's tool call index → our block index.
    tool_blocks: BTreeMap<usize, usize>,
    finish_reason: Option<String>,
    usage: UsageDelta,
}

impl Translator {
    /// The events one chunk stands for.
    fn chunk(&mut self, chunk: Chunk) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        if !self.started {
            self.started = true;
            events.push(StreamEvent::MessageStart { id: chunk.id, model: chunk.model, usage: UsageDelta::default() });
        }
        if let Some(usage) = chunk.usage {
            let cached = usage.prompt_tokens_details.map_or(0, |d| d.cached_tokens);
            self.usage = UsageDelta {
                input_tokens: Some(usage.prompt_tokens.saturating_sub(cached)),
                output_tokens: Some(usage.completion_tokens),
                cache_creation_input_tokens: Some(0),
                cache_read_input_tokens: Some(cached),
            };
        }
        for choice in chunk.choices {
            let text = [choice.delta.content, choice.delta.refusal].into_iter().flatten().collect::<String>();
            if !text.is_empty() {
                let index = match self.text_block {
                    Some(index) => index,
                    None => {
                        let index = self.open(&mut events, BlockStart::Text);
                        self.text_block = Some(index);
                        index
                    }
                };
                events.push(StreamEvent::TextDelta { index, text });
            }
            for call in choice.delta.tool_calls {
                let function = call.function.unwrap_or_default();
                let index = match self.tool_blocks.get(&call.index) {
                    Some(index) => *index,
                    None => {
                        let block = BlockStart::ToolUse {
                            id: call.id.unwrap_or_else(|| format!("call_{}", call.index)),
                            name: function.name.unwrap_or_default(),
                        };
                        // Text after a tool call starts a new block, as Claude's would.
                        self.text_block = None;
                        let index = self.open(&mut events, block);
                        self.tool_blocks.insert(call.index, index);
                        index
                    }
                };
                if let Some(partial_json) = function.arguments.filter(|a| !a.is_empty()) {
                    events.push(StreamEvent::InputJsonDelta { index, partial_json });
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
            }
        }
        events
    }

    fn open(&mut self, events: &mut Vec<StreamEvent>, block: BlockStart) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        events.push(StreamEvent::ContentBlockStart { index, block });
        index
    }

    /// The closing events at `[DONE]`.
    fn done(&mut self) -> Vec<StreamEvent> {
        let mut events: Vec<StreamEvent> =
            (0..self.next_index).map(|index| StreamEvent::ContentBlockStop { index }).collect();
        events.push(StreamEvent::MessageDelta {
            stop_reason: Some(self.finish_reason.as_deref().map_or(StopReason::EndTurn, stop_reason)),
            usage: self.usage,
        });
        events.push(StreamEvent::MessageStop);
        events
    }
}

/// A transport or stream failure of the fallback, worded for OpenAI.
fn openai_failure(err: LlmError) -> LlmError {
    let message = match err {
        LlmError::Timeout => "OpenAI sent nothing within the stall timeout".to_string(),
        LlmError::StreamEnded => "the OpenAI stream ended without [DONE]".to_string(),
        LlmError::Connection(message) => format!("connection to OpenAI failed: {message}"),
        LlmError::Decode(message) => format!("could not decode the OpenAI response: {message}"),
        other => return other,
    };
    LlmError::OpenAi { status: None, message }
}

/// Decodes a Chat Completions event stream from its body bytes into Anthropic-shaped events.
pub(crate) fn decode<S, E>(bytes: S, request_id: Option<String>, stall_timeout: Duration) -> MessageStream
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::error::Error + Send + 'static,
{
    let frames = Box::pin(with_stall_timeout(bytes, stall_timeout).eventsource());
    let state = (frames, Translator::default(), std::collections::VecDeque::new(), false);
    let events = futures::stream::unfold(state, |(mut frames, mut translator, mut queued, mut over)| async move {
        loop {
            if let Some(event) = queued.pop_front() {
                return Some((Ok(event), (frames, translator, queued, over)));
            }
            if over {
                return None;
            }
            let failure = match frames.next().await {
                None => LlmError::StreamEnded,
                Some(Err(eventsource_stream::EventStreamError::Transport(err))) => err,
                Some(Err(err)) => LlmError::Decode(format!("invalid event stream: {err}")),
                Some(Ok(frame)) if frame.data.trim() == "[DONE]" => {
                    queued.extend(translator.done());
                    over = true;
                    continue;
                }
                Some(Ok(frame)) => match serde_json::from_str::<Chunk>(&frame.data) {
                    Ok(Chunk { error: Some(error), .. }) => {
                        let message = error.get("message").and_then(Value::as_str).unwrap_or("error chunk");
                        LlmError::OpenAi { status: None, message: message.to_string() }
                    }
                    Ok(chunk) => {
                        queued.extend(translator.chunk(chunk));
                        continue;
                    }
                    Err(err) => LlmError::Decode(format!("malformed chunk: {err}")),
                },
            };
            return Some((Err(openai_failure(failure)), (frames, translator, queued, true)));
        }
    });
    MessageStream::from_events(events, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ContentBlock, MessageAccumulator, Usage};
    use serde_json::json;

    fn decode_all(frames: &[&str]) -> Vec<Result<StreamEvent, String>> {
        let body: String = frames.iter().map(|f| format!("data: {f}\n\n")).collect();
        let bytes = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(body))]);
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(decode(bytes, None, Duration::from_secs(5)).map(|r| r.map_err(|e| e.to_string())).collect())
    }

    #[test]
    fn streamed_text_and_tool_calls_assemble_into_an_assistant_turn() {
        let chunk = |delta: Value, finish: Value| {
            json!({"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-test","choices":[{"index":0,"delta":delta,"finish_reason":finish}]}).to_string()
        };
        let frames = [
            chunk(json!({"role":"assistant","content":""}), Value::Null),
            chunk(json!({"content":"Let me "}), Value::Null),
            chunk(json!({"content":"look."}), Value::Null),
            chunk(json!({"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"search","arguments":""}}]}), Value::Null),
            chunk(json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":"}}]}), Value::Null),
            chunk(json!({"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"history","arguments":"{}"}}]}), Value::Null),
            chunk(json!({"tool_calls":[{"index":0,"function":{"arguments":"\"légs\"}"}}]}), Value::Null),
            chunk(json!({}), json!("tool_calls")),
            json!({"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":40}}}).to_string(),
            "[DONE]".to_string(),
        ];
        let events = decode_all(&frames.iter().map(String::as_str).collect::<Vec<_>>());
        let mut acc = MessageAccumulator::new();
        for event in &events {
            acc.push(event.as_ref().unwrap());
        }
        let turn = acc.finish();
        assert_eq!(
            turn.content,
            vec![
                ContentBlock::Text { text: "Let me look.".into() },
                ContentBlock::ToolUse { id: "call_a".into(), name: "search".into(), input: json!({"q":"légs"}) },
                ContentBlock::ToolUse { id: "call_b".into(), name: "history".into(), input: json!({}) },
            ]
        );
        assert_eq!(turn.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(turn.model.as_deref(), Some("gpt-test"));
        assert_eq!(
            turn.usage,
            Usage { input_tokens: 60, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 40 }
        );
    }

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        assert_eq!(stop_reason("stop"), StopReason::EndTurn);
        assert_eq!(stop_reason("length"), StopReason::MaxTokens);
        assert_eq!(stop_reason("tool_calls"), StopReason::ToolUse);
        assert_eq!(stop_reason("content_filter"), StopReason::Refusal);
        assert_eq!(stop_reason("new_reason"), StopReason::Other("new_reason".into()));
    }

    #[test]
    fn an_end_without_done_an_error_chunk_and_garbage_are_failures() {
        let text = json!({"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]})
            .to_string();
        let cut = decode_all(&[&text]);
        assert!(cut.last().unwrap().as_ref().unwrap_err().contains("without [DONE]"), "{cut:?}");
        let error = decode_all(&[&text, r#"{"error":{"message":"The server had an error","type":"server_error"}}"#]);
        assert!(error.last().unwrap().as_ref().unwrap_err().contains("The server had an error"), "{error:?}");
        let garbage = decode_all(&["{not json"]);
        assert!(garbage[0].as_ref().unwrap_err().contains("malformed chunk"), "{garbage:?}");
    }
}
