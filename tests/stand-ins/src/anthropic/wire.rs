//! Anthropic's wire format, byte for byte: a scripted [`Reply`] becomes the status, headers and
//! body chunks (with their pauses and holds) the real API would send. Streams are `event: <type>\ndata:
//! <compact json>\n\n` frames in the documented order; usage in `message_delta` is cumulative;
//! errors use `{"type":"error","error":{…},"request_id":…}`.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use super::reply::{Chunking, Ending, Frame, MessageScript, Reply, ReplyBody, ScriptBlock, Split, StatusScript};
use crate::gate::Gate;

/// A response ready to be written.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Nothing is sent before this gate opens.
    pub headers_held: Option<Gate>,
    /// Each chunk is written after its wait.
    pub chunks: Vec<(Wait, Bytes)>,
    /// The body does not end (or break) before this gate opens.
    pub end_held: Option<Gate>,
    /// Break the connection after the last chunk instead of ending the body.
    pub abort: bool,
    /// A one-word description for the log.
    pub summary: String,
}

/// What the writer waits for before a chunk: a pause, then (for a held reply) a gate.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wait {
    pub pause: Duration,
    pub gate: Option<Gate>,
}

/// What the stand-in knows about the request when it renders a reply.
pub(crate) struct RequestFacts<'a> {
    pub model: &'a str,
    pub request_id: &'a str,
    /// A plausible `input_tokens` for the request.
    pub estimated_input_tokens: u64,
}

pub(crate) fn render(reply: &Reply, facts: &RequestFacts<'_>) -> Rendered {
    let mut headers = Vec::new();
    let (status, frames, abort, summary) = match &reply.body {
        ReplyBody::Message(script) => {
            let (frames, abort) = message_frames(script, facts);
            (200, frames, abort, describe_message(script))
        }
        ReplyBody::Frames(frames) => (200, frames.clone(), false, format!("{} raw frames", frames.len())),
        ReplyBody::Status(script) => {
            let (body, mut extra) = error_response(script, facts.request_id);
            headers.append(&mut extra);
            let chunks = vec![(Wait::default(), Bytes::from(body))];
            headers.extend(reply.headers.iter().cloned());
            headers.push(("request-id".into(), facts.request_id.into()));
            return Rendered {
                status: script.status,
                headers,
                headers_held: reply.wire.headers_held.clone(),
                chunks,
                end_held: None,
                abort: false,
                summary: format!("HTTP {}", script.status),
            };
        }
    };
    headers.push(("content-type".into(), "text/event-stream; charset=utf-8".into()));
    headers.push(("cache-control".into(), "no-cache".into()));
    headers.push(("request-id".into(), facts.request_id.into()));
    headers.extend(reply.headers.iter().cloned());
    let (chunks, end_held) = chunk(&frames, reply);
    Rendered { status, headers, headers_held: reply.wire.headers_held.clone(), chunks, end_held, abort, summary }
}

fn describe_message(script: &MessageScript) -> String {
    let kinds: Vec<&str> = script
        .blocks
        .iter()
        .map(|b| match b {
            ScriptBlock::Text(_) => "text",
            ScriptBlock::ToolUse { .. } => "tool_use",
            ScriptBlock::Thinking { .. } => "thinking",
            ScriptBlock::RedactedThinking(_) => "redacted_thinking",
        })
        .collect();
    format!("stream [{}] ending {:?}", kinds.join(", "), script.ending)
}

/// JSON whose object keys keep the order they are written in (Anthropic writes `type` first;
/// serde_json's own map would sort them).
enum J {
    V(Value),
    O(Vec<(&'static str, J)>),
}

fn v(value: impl Into<Value>) -> J {
    J::V(value.into())
}

fn o<const N: usize>(fields: [(&'static str, J); N]) -> J {
    J::O(fields.into())
}

impl serde::Serialize for J {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            J::V(value) => value.serialize(serializer),
            J::O(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

fn frame(name: &str, data: J) -> Frame {
    let data = serde_json::to_string(&data).expect("stand-in JSON serialises");
    Frame::raw(format!("event: {name}\ndata: {data}\n\n"))
}

/// The frames of a streamed message, and whether the connection breaks after them.
fn message_frames(script: &MessageScript, facts: &RequestFacts<'_>) -> (Vec<Frame>, bool) {
    let input_tokens = script.input_tokens.unwrap_or(facts.estimated_input_tokens);
    let output_tokens = script.output_tokens.unwrap_or_else(|| estimate_output_tokens(&script.blocks));
    let (cache_write, cache_read) = (script.cache_creation_input_tokens, script.cache_read_input_tokens);
    let start_usage = o([
        ("input_tokens", v(input_tokens)),
        ("cache_creation_input_tokens", v(cache_write)),
        ("cache_read_input_tokens", v(cache_read)),
        ("cache_creation", o([("ephemeral_5m_input_tokens", v(cache_write)), ("ephemeral_1h_input_tokens", v(0))])),
        ("output_tokens", v(1)),
        ("service_tier", v("standard")),
    ]);
    let message = o([
        ("id", v(super::new_id("msg_"))),
        ("type", v("message")),
        ("role", v("assistant")),
        ("model", v(facts.model)),
        ("content", v(json!([]))),
        ("stop_reason", v(Value::Null)),
        ("stop_sequence", v(Value::Null)),
        ("usage", start_usage),
    ]);
    let mut frames = vec![
        frame("message_start", o([("type", v("message_start")), ("message", message)])),
        Frame::raw("event: ping\ndata: {\"type\": \"ping\"}\n\n"),
    ];
    if script.unknown_events {
        frames.push(frame("message_annotation", o([("type", v("message_annotation")), ("note", v("new in v9"))])));
    }
    for (index, block) in script.blocks.iter().enumerate() {
        block_frames(script, index, block, &mut frames);
    }
    let stop_reason = script.stop_reason.clone().unwrap_or_else(|| default_stop_reason(&script.blocks).to_string());
    match &script.ending {
        Ending::Complete => {
            let mut delta = vec![("stop_reason", v(stop_reason.as_str())), ("stop_sequence", v(Value::Null))];
            if stop_reason == "refusal" {
                let details =
                    o([("type", v("refusal")), ("category", v(Value::Null)), ("explanation", v(Value::Null))]);
                delta.push(("stop_details", details));
            }
            let usage = if script.legacy_usage {
                o([("output_tokens", v(output_tokens))])
            } else {
                o([
                    ("input_tokens", v(input_tokens)),
                    ("cache_creation_input_tokens", v(cache_write)),
                    ("cache_read_input_tokens", v(cache_read)),
                    ("output_tokens", v(output_tokens)),
                ])
            };
            frames.push(frame(
                "message_delta",
                o([("type", v("message_delta")), ("delta", J::O(delta)), ("usage", usage)]),
            ));
            frames.push(frame("message_stop", o([("type", v("message_stop"))])));
            (frames, false)
        }
        Ending::Error { error_type, message } => {
            let error = o([("type", v(error_type.as_str())), ("message", v(message.as_str()))]);
            frames.push(frame("error", o([("type", v("error")), ("error", error)])));
            (frames, false)
        }
        Ending::Cut => (frames, false),
        Ending::Abort => (frames, true),
    }
}

fn block_frames(script: &MessageScript, index: usize, block: &ScriptBlock, frames: &mut Vec<Frame>) {
    let start = |content_block: J| {
        frame(
            "content_block_start",
            o([("type", v("content_block_start")), ("index", v(index)), ("content_block", content_block)]),
        )
    };
    let delta = |kind: &'static str, key: &'static str, value: J| {
        let delta = o([("type", v(kind)), (key, value)]);
        frame("content_block_delta", o([("type", v("content_block_delta")), ("index", v(index)), ("delta", delta)]))
    };
    let stop = frame("content_block_stop", o([("type", v("content_block_stop")), ("index", v(index))]));
    match block {
        ScriptBlock::Text(text) => {
            frames.push(start(o([("type", v("text")), ("text", v(""))])));
            for (i, piece) in split(text, &script.text_split).into_iter().enumerate() {
                frames.push(delta("text_delta", "text", v(piece)));
                if script.unknown_events && i == 0 {
                    frames.push(delta("citations_delta", "citation", v(json!({"type":"char_location"}))));
                    frames.push(frame("brand_new_event", o([("type", v("brand_new_event")), ("index", v(index))])));
                }
            }
            frames.push(stop);
        }
        ScriptBlock::ToolUse { id, name, input_json, stopped } => {
            frames.push(start(o([
                ("type", v("tool_use")),
                ("id", v(id.as_str())),
                ("name", v(name.as_str())),
                ("input", v(json!({}))),
            ])));
            let mut pieces = split(input_json, &script.json_split);
            if pieces.is_empty() {
                // A tool without arguments: a single empty fragment, as the real API sends.
                pieces.push(String::new());
            }
            for piece in pieces {
                frames.push(delta("input_json_delta", "partial_json", v(piece)));
            }
            if *stopped {
                frames.push(stop);
            }
        }
        ScriptBlock::Thinking { thinking, signature } => {
            frames.push(start(o([("type", v("thinking")), ("thinking", v("")), ("signature", v(""))])));
            for piece in split(thinking, &script.text_split) {
                frames.push(delta("thinking_delta", "thinking", v(piece)));
            }
            frames.push(delta("signature_delta", "signature", v(signature.as_str())));
            frames.push(stop);
        }
        ScriptBlock::RedactedThinking(data) => {
            frames.push(start(o([("type", v("redacted_thinking")), ("data", v(data.as_str()))])));
            frames.push(stop);
        }
    }
}

fn default_stop_reason(blocks: &[ScriptBlock]) -> &'static str {
    let tool_states = blocks.iter().filter_map(|b| match b {
        ScriptBlock::ToolUse { stopped, .. } => Some(*stopped),
        _ => None,
    });
    let mut any_tool = false;
    for stopped in tool_states {
        if !stopped {
            return "max_tokens";
        }
        any_tool = true;
    }
    if any_tool { "tool_use" } else { "end_turn" }
}

/// About four characters per token, at least one.
fn estimate_output_tokens(blocks: &[ScriptBlock]) -> u64 {
    let chars: usize = blocks
        .iter()
        .map(|b| match b {
            ScriptBlock::Text(text) => text.chars().count(),
            ScriptBlock::ToolUse { input_json, name, .. } => input_json.chars().count() + name.len(),
            ScriptBlock::Thinking { thinking, .. } => thinking.chars().count(),
            ScriptBlock::RedactedThinking(_) => 16,
        })
        .sum();
    (chars as u64).div_ceil(4).max(1)
}

/// The uneven fragment sizes of [`Split::Awkward`].
const AWKWARD: [usize; 7] = [1, 3, 2, 7, 1, 5, 4];

/// Cuts `text` into deltas on character boundaries. Empty text gives no pieces.
pub(crate) fn split(text: &str, how: &Split) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut step = 0;
    while at < chars.len() {
        let size = match how {
            Split::Whole => chars.len(),
            Split::Every(n) => (*n).max(1),
            Split::Awkward => AWKWARD[step % AWKWARD.len()],
        };
        let end = (at + size).min(chars.len());
        pieces.push(chars[at..end].iter().collect());
        at = end;
        step += 1;
    }
    pieces
}

/// Cuts the body into writes: at frame boundaries (per-frame chunking, or where a pause or a hold
/// is due) and wherever the chunking asks, even inside a UTF-8 character. Returns the chunks and
/// the hold of the body's end (when the reply holds after its last frame).
fn chunk(frames: &[Frame], reply: &Reply) -> (Vec<(Wait, Bytes)>, Option<Gate>) {
    let wire = &reply.wire;
    let held_before = |i: usize| match &wire.hold {
        Some((after, gate)) if *after == i => Some(gate.clone()),
        _ => None,
    };
    let mut body = String::new();
    let mut cuts: BTreeMap<usize, Wait> = BTreeMap::new();
    for (i, frame) in frames.iter().enumerate() {
        let wait = Wait { pause: if i == 0 { Duration::ZERO } else { wire.event_delay }, gate: held_before(i) };
        if i == 0 || wire.chunking == Chunking::PerFrame || !wait.pause.is_zero() || wait.gate.is_some() {
            cuts.insert(body.len(), wait);
        }
        body.push_str(&frame.text);
    }
    let end_held = match &wire.hold {
        Some((after, gate)) if *after >= frames.len() => Some(gate.clone()),
        _ => None,
    };
    let extra: Vec<usize> = match &wire.chunking {
        Chunking::PerFrame => Vec::new(),
        Chunking::Bytes(n) => (1..).map(|k| k * (*n).max(1)).take_while(|&o| o < body.len()).collect(),
        Chunking::At(offsets) => offsets.iter().copied().filter(|&o| o > 0 && o < body.len()).collect(),
    };
    for offset in extra {
        cuts.entry(offset).or_insert(Wait { pause: wire.chunk_delay, gate: None });
    }
    cuts.entry(0).or_default();
    let bytes = Bytes::from(body);
    let offsets: Vec<(usize, Wait)> = cuts.into_iter().collect();
    let chunks = offsets
        .iter()
        .enumerate()
        .filter(|(_, (start, _))| *start < bytes.len())
        .map(|(i, (start, wait))| {
            let end = offsets.get(i + 1).map_or(bytes.len(), |(next, _)| *next);
            (wait.clone(), bytes.slice(*start..end))
        })
        .collect();
    (chunks, end_held)
}

/// The JSON error body (or the raw one) and the extra headers of an HTTP error.
fn error_response(script: &StatusScript, request_id: &str) -> (String, Vec<(String, String)>) {
    let mut headers = Vec::new();
    if let Some(retry_after) = &script.retry_after {
        headers.push(("retry-after".to_string(), retry_after.clone()));
    }
    if let Some(raw) = &script.raw_body {
        headers.push(("content-type".to_string(), "text/html; charset=utf-8".to_string()));
        return (raw.clone(), headers);
    }
    headers.push(("content-type".to_string(), "application/json".to_string()));
    let (default_type, default_message) = error_defaults(script.status);
    let mut error = vec![
        ("type", v(script.error_type.as_deref().unwrap_or(default_type))),
        ("message", v(script.message.as_deref().unwrap_or(default_message))),
    ];
    if let Some(code) = &script.error_code {
        error.push(("details", o([("error_code", v(code.as_str()))])));
    }
    let body = o([("type", v("error")), ("error", J::O(error)), ("request_id", v(request_id))]);
    (serde_json::to_string(&body).expect("stand-in JSON serialises"), headers)
}

/// Anthropic's `error.type` and a typical message for an HTTP status.
fn error_defaults(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("invalid_request_error", "Invalid request."),
        401 => ("authentication_error", "invalid x-api-key"),
        402 => ("billing_error", "Your credit balance is too low to access the Anthropic API."),
        403 => ("permission_error", "Your API key does not have permission to use the specified resource."),
        404 => ("not_found_error", "The requested resource could not be found."),
        413 => ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
        429 => ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
        504 => ("timeout_error", "Request timed out."),
        529 => ("overloaded_error", "Overloaded"),
        _ => ("api_error", "Internal server error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RequestFacts<'static> {
        RequestFacts { model: "claude-test", request_id: "req_test", estimated_input_tokens: 100 }
    }

    fn body_text(rendered: &Rendered) -> String {
        let bytes: Vec<u8> = rendered.chunks.iter().flat_map(|(_, c)| c.to_vec()).collect();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn awkward_split_keeps_every_character_and_cuts_unevenly() {
        let text = "{\"query\": \"jambes \u{e9}t\u{e9} \\\"x\\\"\"}";
        let pieces = split(text, &Split::Awkward);
        assert_eq!(pieces.concat(), text);
        assert!(pieces.len() > 5);
        assert_eq!(pieces[0].chars().count(), 1);
        assert!(split("", &Split::Awkward).is_empty());
        assert_eq!(split("abcdef", &Split::Every(4)), ["abcd", "ef"]);
    }

    #[test]
    fn a_text_reply_is_the_documented_event_sequence() {
        let rendered = render(&Reply::text("Hi").usage(12, 3), &facts());
        let body = body_text(&rendered);
        let events: Vec<&str> =
            body.split("\n\n").filter(|f| !f.is_empty()).map(|f| f.lines().next().unwrap()).collect();
        assert_eq!(
            events,
            [
                "event: message_start",
                "event: ping",
                "event: content_block_start",
                "event: content_block_delta",
                "event: content_block_delta",
                "event: content_block_stop",
                "event: message_delta",
                "event: message_stop"
            ]
        );
        assert!(
            body.contains(
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\
             \"stop_sequence\":null},\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":0,\
             \"cache_read_input_tokens\":0,\"output_tokens\":3}}\n\n"
            ),
            "{body}"
        );
        assert!(body.starts_with("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_"));
        assert_eq!(rendered.chunks.len(), 8);
        assert!(rendered.headers.contains(&("content-type".into(), "text/event-stream; charset=utf-8".into())));
    }

    #[test]
    fn byte_chunking_cuts_inside_characters_and_holds_split_groups() {
        let reply = Reply::text("\u{e9}\u{e9}\u{e9}").chunking(Chunking::Bytes(3)).hold_after(2, Gate::new());
        let rendered = render(&reply, &facts());
        assert!(rendered.chunks.iter().all(|(_, c)| c.len() <= 3));
        assert!(rendered.chunks.iter().any(|(_, c)| std::str::from_utf8(c).is_err()));
        let held: Vec<&Bytes> = rendered.chunks.iter().filter(|(w, _)| w.gate.is_some()).map(|(_, c)| c).collect();
        assert_eq!(held.len(), 1);
        let third_frame = body_text(&rendered).split_inclusive("\n\n").take(2).map(str::len).sum::<usize>();
        let held_at: usize = rendered.chunks.iter().take_while(|(w, _)| w.gate.is_none()).map(|(_, c)| c.len()).sum();
        assert_eq!(held_at, third_frame, "the hold starts the third frame");
        assert!(body_text(&rendered).contains("\u{e9}"));
        assert!(rendered.end_held.is_none());
    }

    #[test]
    fn a_hold_after_the_last_frame_holds_the_end_of_the_body() {
        let rendered = render(&Reply::text("Hi").hold_after(100, Gate::new()), &facts());
        assert!(rendered.chunks.iter().all(|(w, _)| w.gate.is_none()));
        assert!(rendered.end_held.is_some());
    }

    #[test]
    fn errors_carry_anthropic_bodies_and_headers() {
        let rendered = render(&Reply::spend_limit().retry_after(3), &facts());
        assert_eq!(rendered.status, 429);
        let body: Value = serde_json::from_str(&body_text(&rendered)).unwrap();
        assert_eq!(body["error"]["type"], "rate_limit_error");
        assert_eq!(body["error"]["details"]["error_code"], "enforced_spend_limit_reached");
        assert_eq!(body["request_id"], "req_test");
        assert!(rendered.headers.contains(&("retry-after".into(), "3".into())));
    }
}
