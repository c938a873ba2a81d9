//! The Chat Completions side of the OpenAI stand-in (`POST /v1/chat/completions`, streaming): the
//! service's fallback when Anthropic fails. It speaks the real format: `data: {chunk}` lines with
//! no event names, a first chunk carrying the role, text in `delta.content` pieces, each tool call
//! opened by a fragment with its `index`, `id` and function `name` and continued by `arguments`
//! fragments, a last chunk with `finish_reason`, the usage chunk (`choices: []`) when
//! `stream_options.include_usage` asks for it, and `data: [DONE]`. It refuses what the real API
//! refuses: a wrong key, a missing model, tool messages that answer no preceding tool call, an
//! assistant's tool calls left unanswered, a tool with an invalid name.
//!
//! Tests queue [`ChatReply`]s on [`crate::openai::OpenAiStandIn::push_chat`]; with none queued it
//! answers as a labelled stand-in, repeating the last user message.

use std::collections::HashSet;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::{Value, json};

use crate::gate::Gate;
use crate::recording_server::{RecordedRequest, reply};

/// What the stand-in writes when no reply is queued.
pub const STAND_IN_CHAT_LABEL: &str = "[stand-in OpenAI]";

/// One scripted answer to one Chat Completions request.
#[derive(Clone, Debug)]
pub struct ChatReply {
    body: ChatBody,
    /// The answer waits here (before its headers) until the gate opens.
    held: Option<Gate>,
}

#[derive(Clone, Debug)]
enum ChatBody {
    Stream { text: String, tool_calls: Vec<(String, String, String)>, finish_reason: Option<String>, usage: (u64, u64) },
    Status(u16),
}

impl ChatReply {
    /// A streamed text answer (`finish_reason: "stop"`).
    pub fn text(text: impl Into<String>) -> ChatReply {
        ChatReply {
            body: ChatBody::Stream { text: text.into(), tool_calls: Vec::new(), finish_reason: None, usage: (50, 10) },
            held: None,
        }
    }

    /// A streamed answer that calls one tool (`finish_reason: "tool_calls"`).
    pub fn tool_call(id: impl Into<String>, name: impl Into<String>, arguments: impl Into<String>) -> ChatReply {
        ChatReply::text("").and_tool_call(id, name, arguments)
    }

    /// One more tool call after what the reply already says.
    pub fn and_tool_call(
        mut self,
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> ChatReply {
        if let ChatBody::Stream { tool_calls, .. } = &mut self.body {
            tool_calls.push((id.into(), name.into(), arguments.into()));
        }
        self
    }

    /// This `finish_reason` instead of the one the content implies.
    pub fn finish_reason(mut self, reason: impl Into<String>) -> ChatReply {
        if let ChatBody::Stream { finish_reason, .. } = &mut self.body {
            *finish_reason = Some(reason.into());
        }
        self
    }

    /// `prompt_tokens` and `completion_tokens` of the usage chunk.
    pub fn usage(mut self, prompt: u64, completion: u64) -> ChatReply {
        if let ChatBody::Stream { usage, .. } = &mut self.body {
            *usage = (prompt, completion);
        }
        self
    }

    /// An error response with OpenAI's error body.
    pub fn status(status: u16) -> ChatReply {
        ChatReply { body: ChatBody::Status(status), held: None }
    }

    /// Holds the answer until `gate` opens.
    pub fn hold_until(mut self, gate: Gate) -> ChatReply {
        self.held = Some(gate);
        self
    }
}

/// The Chat Completions reading of a recorded request.
impl RecordedRequest {
    /// The `messages` of a Chat Completions request.
    pub fn chat_messages(&self) -> Vec<Value> {
        self.json().get("messages").and_then(Value::as_array).cloned().unwrap_or_default()
    }
}

fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Response {
    reply::json(status, json!({"error": {"message": message, "type": kind, "param": null, "code": code}}))
}

/// Why the real API would refuse this body, if it would.
fn refusal(body: &Value) -> Option<String> {
    if body.get("model").and_then(Value::as_str).is_none() {
        return Some("you must provide a model parameter".to_string());
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array).filter(|m| !m.is_empty()) else {
        return Some("'messages' is a required property and must not be empty".to_string());
    };
    let mut unanswered: Vec<String> = Vec::new();
    let mut answerable: HashSet<String> = HashSet::new();
    for message in messages {
        match message.get("role").and_then(Value::as_str) {
            Some("tool") => {
                let id = message.get("tool_call_id").and_then(Value::as_str).unwrap_or_default();
                if !answerable.contains(id) {
                    return Some(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
                            .to_string(),
                    );
                }
                unanswered.retain(|u| u != id);
                continue;
            }
            Some("system" | "user" | "assistant" | "developer") => {}
            other => {
                return Some(format!(
                    "Invalid value: {other:?}. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'."
                ));
            }
        }
        if !unanswered.is_empty() {
            return Some(format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                unanswered.join(", ")
            ));
        }
        answerable.clear();
        for call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let id = call.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            if call.pointer("/function/arguments").and_then(Value::as_str).is_none() {
                return Some(
                    "Invalid type for 'messages.tool_calls.function.arguments': expected a string.".to_string(),
                );
            }
            answerable.insert(id.clone());
            unanswered.push(id);
        }
    }
    if !unanswered.is_empty() {
        return Some(format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
            unanswered.join(", ")
        ));
    }
    for tool in body.get("tools").and_then(Value::as_array).into_iter().flatten() {
        let name = tool.pointer("/function/name").and_then(Value::as_str).unwrap_or_default();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if tool.get("type").and_then(Value::as_str) != Some("function") || !valid {
            return Some(format!("Invalid 'tools[].function.name': string does not match pattern. Got {name:?}."));
        }
    }
    None
}

/// Answers one Chat Completions request with `scripted` (or the default answer).
pub(crate) async fn respond(request: &RecordedRequest, key: &str, scripted: Option<ChatReply>) -> Response {
    if request.header("authorization") != Some(format!("Bearer {key}").as_str()) {
        return error(401, "Incorrect API key provided.", "invalid_request_error", Some("invalid_api_key"));
    }
    let body = request.json();
    if let Some(message) = refusal(&body) {
        tracing::warn!(%message, "[stand-in OpenAI] refusing an invalid chat request");
        return error(400, &message, "invalid_request_error", None);
    }
    let reply = scripted.unwrap_or_else(|| default_reply(&body));
    if let Some(gate) = &reply.held {
        gate.passed().await;
    }
    let (text, tool_calls, finish_reason, usage) = match reply.body {
        ChatBody::Status(429) => {
            return error(429, "Rate limit reached for requests", "requests", Some("rate_limit_exceeded"));
        }
        ChatBody::Status(status) => {
            return error(status, "The server had an error while processing your request.", "server_error", None);
        }
        ChatBody::Stream { text, tool_calls, finish_reason, usage } => (text, tool_calls, finish_reason, usage),
    };
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    let include_usage = body.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let chunk = |choices: Value, usage: Value| {
        let mut chunk = json!({
            "id": id, "object": "chat.completion.chunk", "created": chrono::Utc::now().timestamp(),
            "model": model, "system_fingerprint": "fp_stand_in", "choices": choices,
        });
        if include_usage {
            chunk["usage"] = usage;
        }
        format!("data: {chunk}\n\n")
    };
    let delta =
        |delta: Value, finish: Value| json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
    let mut frames =
        vec![chunk(delta(json!({"role": "assistant", "content": "", "refusal": null}), Value::Null), Value::Null)];
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(4) {
        frames.push(chunk(delta(json!({"content": piece.iter().collect::<String>()}), Value::Null), Value::Null));
    }
    for (index, (call_id, name, arguments)) in tool_calls.iter().enumerate() {
        let open = json!({"tool_calls": [{"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]});
        frames.push(chunk(delta(open, Value::Null), Value::Null));
        let chars: Vec<char> = arguments.chars().collect();
        for piece in chars.chunks(3) {
            let more =
                json!({"tool_calls": [{"index": index, "function": {"arguments": piece.iter().collect::<String>()}}]});
            frames.push(chunk(delta(more, Value::Null), Value::Null));
        }
    }
    let finish = finish_reason.unwrap_or_else(|| if tool_calls.is_empty() { "stop" } else { "tool_calls" }.to_string());
    frames.push(chunk(delta(json!({}), json!(finish)), Value::Null));
    if include_usage {
        let (prompt, completion) = usage;
        let usage = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}});
        frames.push(chunk(json!([]), usage));
    }
    frames.push("data: [DONE]\n\n".to_string());
    tracing::info!(frames = frames.len(), "[stand-in OpenAI] POST /v1/chat/completions");
    let stream = futures::stream::iter(frames.into_iter().map(|frame| Ok::<_, Infallible>(Bytes::from(frame))));
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("x-request-id", format!("req_{}", uuid::Uuid::new_v4().simple()))
        .header("x-stand-in", "openai")
        .body(Body::from_stream(stream))
        .expect("a valid response")
}

/// The answer with no script: a labelled echo of the last user message.
fn default_reply(body: &Value) -> ChatReply {
    let last_user = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.iter().rev().find(|m| m.get("role").and_then(Value::as_str) == Some("user")))
        .and_then(|m| m.get("content").and_then(Value::as_str))
        .unwrap_or_default();
    ChatReply::text(format!("{STAND_IN_CHAT_LABEL} You said: {last_user}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_messages_must_answer_the_preceding_tool_calls() {
        let call = json!({"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}});
        let ok = json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "r"},
        ]});
        assert_eq!(refusal(&ok), None);
        let stray = json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "call_1", "content": "r"}]});
        assert!(refusal(&stray).unwrap().contains("preceeding"));
        let unanswered = json!({"model": "m", "messages": [
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "user", "content": "hi"},
        ]});
        assert!(refusal(&unanswered).unwrap().contains("call_1"));
    }
}
