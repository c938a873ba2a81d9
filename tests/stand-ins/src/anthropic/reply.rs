//! The script of one stand-in response: a streamed message built block by block (text, tool calls,
//! thinking), an HTTP error, or raw frames; plus how it goes over the wire (chunking, pauses, cuts,
//! and holds: the rest of the response waits at a [`Gate`] until the test opens it).
//! Tests queue these on the [`super::StandIn`]; the dev model builds them from the request.

use std::time::Duration;

use serde_json::Value;

use crate::gate::Gate;

/// One scripted response to one `POST /v1/messages`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub(crate) body: ReplyBody,
    pub(crate) wire: WireOptions,
    /// Extra response headers.
    pub(crate) headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub(crate) enum ReplyBody {
    Message(MessageScript),
    Status(StatusScript),
    Frames(Vec<Frame>),
}

/// A streamed message: `message_start`, a `ping`, the blocks, `message_delta`, `message_stop`,
/// unless [`Ending`] says otherwise.
#[derive(Debug, Clone, Default)]
pub(crate) struct MessageScript {
    pub blocks: Vec<ScriptBlock>,
    pub stop_reason: Option<String>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    /// `message_delta.usage` carries only `output_tokens`, as older streams did.
    pub legacy_usage: bool,
    /// Unknown event and delta types sprinkled between the real ones.
    pub unknown_events: bool,
    pub ending: Ending,
    /// Characters per `text_delta` / `thinking_delta`; `None` means the default uneven pattern.
    pub text_split: Split,
    pub json_split: Split,
}

#[derive(Debug, Clone)]
pub(crate) enum ScriptBlock {
    Text(String),
    /// `input_json` is sent as `input_json_delta` fragments; `stopped: false` leaves the block open.
    ToolUse {
        id: String,
        name: String,
        input_json: String,
        stopped: bool,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    RedactedThinking(String),
}

/// How a streamed message ends.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum Ending {
    /// `message_delta` then `message_stop`.
    #[default]
    Complete,
    /// An `error` event after the blocks (on the HTTP 200), then the body ends.
    Error { error_type: String, message: String },
    /// The body ends cleanly after the blocks: no `message_delta`, no `message_stop`.
    Cut,
    /// The connection breaks after the blocks (the chunked body is never terminated).
    Abort,
}

/// How a text or JSON string is cut into deltas.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Split {
    /// An uneven pattern of 1 to 7 characters: cuts land inside keys, values, escapes and multibyte text.
    #[default]
    Awkward,
    /// All in one delta.
    Whole,
    /// Every `n` characters.
    Every(usize),
}

/// An HTTP error response with Anthropic's error body.
#[derive(Debug, Clone)]
pub(crate) struct StatusScript {
    pub status: u16,
    pub error_type: Option<String>,
    pub message: Option<String>,
    pub error_code: Option<String>,
    pub retry_after: Option<String>,
    /// Replaces the JSON body (e.g. a proxy's HTML page).
    pub raw_body: Option<String>,
}

/// One SSE frame, written as given (the raw escape hatch). Pauses come from the reply's wire options.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub(crate) text: String,
}

impl Frame {
    /// `event: <name>\ndata: <json>\n\n`, the JSON written compactly as Anthropic does.
    pub fn event(name: &str, data: &Value) -> Frame {
        Frame { text: format!("event: {name}\ndata: {data}\n\n") }
    }

    /// Exactly these characters on the wire.
    pub fn raw(text: impl Into<String>) -> Frame {
        Frame { text: text.into() }
    }
}

/// How the response bytes are written: chunk sizes, pauses and holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct WireOptions {
    pub chunking: Chunking,
    /// The response headers wait until this gate opens.
    pub headers_held: Option<Gate>,
    /// Before every frame after the first.
    pub event_delay: Duration,
    /// After this many frames, nothing more is written until the gate opens (stall tests, turns
    /// that must still be running when the test acts).
    pub hold: Option<(usize, Gate)>,
    /// Between two chunks of one write group, so that they reach the client separately.
    pub chunk_delay: Duration,
}

/// How the frames of a response are cut into writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Chunking {
    /// One write per SSE frame (what Anthropic does).
    #[default]
    PerFrame,
    /// Every `n` bytes, regardless of frame or UTF-8 character boundaries.
    Bytes(usize),
    /// At these byte offsets of the whole body (frames separated by pauses still split there).
    At(Vec<usize>),
}

impl Reply {
    fn message(script: MessageScript) -> Reply {
        Reply { body: ReplyBody::Message(script), wire: WireOptions::default(), headers: Vec::new() }
    }

    /// A message with no content blocks yet (`end_turn` unless changed).
    pub fn empty_message() -> Reply {
        Reply::message(MessageScript::default())
    }

    /// A message with one text block, ending with `end_turn`.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::empty_message().and_text(text)
    }

    /// A message with one tool call, ending with `tool_use`. `input_json` is the tool input as JSON
    /// text; `""` gives the no-argument form (one `partial_json: ""`).
    pub fn tool_use(id: impl Into<String>, name: impl Into<String>, input_json: impl Into<String>) -> Reply {
        Reply::empty_message().and_tool_use(id, name, input_json)
    }

    /// An HTTP error with Anthropic's error body for that status (429 → `rate_limit_error`, …).
    pub fn status(status: u16) -> Reply {
        let script = StatusScript {
            status,
            error_type: None,
            message: None,
            error_code: None,
            retry_after: None,
            raw_body: None,
        };
        Reply { body: ReplyBody::Status(script), wire: WireOptions::default(), headers: Vec::new() }
    }

    /// HTTP 529 `overloaded_error`.
    pub fn overloaded() -> Reply {
        Reply::status(529)
    }

    /// HTTP 429 for the monthly spend cap (`error.details.error_code = enforced_spend_limit_reached`).
    pub fn spend_limit() -> Reply {
        Reply::status(429)
            .error_code("enforced_spend_limit_reached")
            .error_message("You have reached your specified API usage limits.")
    }

    /// Exactly these frames, after the normal response headers.
    pub fn frames(frames: Vec<Frame>) -> Reply {
        Reply { body: ReplyBody::Frames(frames), wire: WireOptions::default(), headers: Vec::new() }
    }

    fn script(mut self, edit: impl FnOnce(&mut MessageScript)) -> Reply {
        match &mut self.body {
            ReplyBody::Message(script) => edit(script),
            _ => panic!("this setting applies to a streamed message reply"),
        }
        self
    }

    fn status_script(mut self, edit: impl FnOnce(&mut StatusScript)) -> Reply {
        match &mut self.body {
            ReplyBody::Status(script) => edit(script),
            _ => panic!("this setting applies to a Reply::status reply"),
        }
        self
    }

    /// Appends a text block.
    pub fn and_text(self, text: impl Into<String>) -> Reply {
        let text = text.into();
        self.script(|s| s.blocks.push(ScriptBlock::Text(text)))
    }

    /// Appends a tool call (parallel tool use when there are several).
    pub fn and_tool_use(self, id: impl Into<String>, name: impl Into<String>, input_json: impl Into<String>) -> Reply {
        let block =
            ScriptBlock::ToolUse { id: id.into(), name: name.into(), input_json: input_json.into(), stopped: true };
        self.script(|s| s.blocks.push(block))
    }

    /// Appends a tool call whose input is cut off: no `content_block_stop`; the stop reason becomes
    /// `max_tokens` unless set otherwise.
    pub fn and_cut_tool_use(
        self,
        id: impl Into<String>,
        name: impl Into<String>,
        partial_json: impl Into<String>,
    ) -> Reply {
        let block =
            ScriptBlock::ToolUse { id: id.into(), name: name.into(), input_json: partial_json.into(), stopped: false };
        self.script(|s| s.blocks.push(block))
    }

    /// Appends a thinking block with its signature.
    pub fn and_thinking(self, thinking: impl Into<String>, signature: impl Into<String>) -> Reply {
        let block = ScriptBlock::Thinking { thinking: thinking.into(), signature: signature.into() };
        self.script(|s| s.blocks.push(block))
    }

    /// Appends a redacted thinking block.
    pub fn and_redacted_thinking(self, data: impl Into<String>) -> Reply {
        let data = data.into();
        self.script(|s| s.blocks.push(ScriptBlock::RedactedThinking(data)))
    }

    /// The stop reason (`end_turn`, `tool_use`, `max_tokens`, `refusal`, `pause_turn`, …).
    pub fn stop_reason(self, stop_reason: impl Into<String>) -> Reply {
        let stop_reason = stop_reason.into();
        self.script(|s| s.stop_reason = Some(stop_reason))
    }

    /// The final input and output token counts (defaults estimate them from the sizes).
    pub fn usage(self, input_tokens: u64, output_tokens: u64) -> Reply {
        self.script(|s| {
            s.input_tokens = Some(input_tokens);
            s.output_tokens = Some(output_tokens);
        })
    }

    /// Cache write and read token counts.
    pub fn cache_tokens(self, creation: u64, read: u64) -> Reply {
        self.script(|s| {
            s.cache_creation_input_tokens = creation;
            s.cache_read_input_tokens = read;
        })
    }

    /// `message_delta.usage` carries only `output_tokens` (older API streams).
    pub fn legacy_usage(self) -> Reply {
        self.script(|s| s.legacy_usage = true)
    }

    /// Sprinkles unknown event types and an unknown delta type between the real events.
    pub fn with_unknown_events(self) -> Reply {
        self.script(|s| s.unknown_events = true)
    }

    /// Ends with a mid-stream `error` event (after the blocks, on the HTTP 200).
    pub fn then_error(self, error_type: impl Into<String>, message: impl Into<String>) -> Reply {
        let ending = Ending::Error { error_type: error_type.into(), message: message.into() };
        self.script(|s| s.ending = ending)
    }

    /// Ends the body cleanly after the blocks, without `message_delta` and `message_stop`.
    pub fn then_cut(self) -> Reply {
        self.script(|s| s.ending = Ending::Cut)
    }

    /// Breaks the connection after the blocks.
    pub fn then_abort(self) -> Reply {
        self.script(|s| s.ending = Ending::Abort)
    }

    /// How text and thinking are cut into deltas.
    pub fn text_split(self, split: Split) -> Reply {
        self.script(|s| s.text_split = split)
    }

    /// How tool input JSON is cut into `input_json_delta`s.
    pub fn json_split(self, split: Split) -> Reply {
        self.script(|s| s.json_split = split)
    }

    /// Sets a `retry-after` header (seconds).
    pub fn retry_after(self, seconds: u64) -> Reply {
        self.retry_after_header(seconds.to_string())
    }

    /// Sets a `retry-after` header to any text (fractions, HTTP dates, garbage).
    pub fn retry_after_header(self, value: impl Into<String>) -> Reply {
        let value = value.into();
        self.status_script(|s| s.retry_after = Some(value))
    }

    /// The `error.type` of the error body (default: Anthropic's for the status).
    pub fn error_type(self, error_type: impl Into<String>) -> Reply {
        let error_type = error_type.into();
        self.status_script(|s| s.error_type = Some(error_type))
    }

    /// The `error.message` of the error body.
    pub fn error_message(self, message: impl Into<String>) -> Reply {
        let message = message.into();
        self.status_script(|s| s.message = Some(message))
    }

    /// `error.details.error_code` of the error body.
    pub fn error_code(self, code: impl Into<String>) -> Reply {
        let code = code.into();
        self.status_script(|s| s.error_code = Some(code))
    }

    /// A non-JSON error body (a proxy's HTML page, …).
    pub fn raw_error_body(self, body: impl Into<String>) -> Reply {
        let body = body.into();
        self.status_script(|s| s.raw_body = Some(body))
    }

    /// An extra response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// How the body is cut into writes.
    pub fn chunking(mut self, chunking: Chunking) -> Reply {
        self.wire.chunking = chunking;
        self
    }

    /// A pause between two chunks of one write group, so that the client reads them separately.
    pub fn chunk_delay(mut self, delay: Duration) -> Reply {
        self.wire.chunk_delay = delay;
        self
    }

    /// No response at all (not even the headers) until `gate` opens: a slow or hung API. A gate the
    /// test never opens holds the response until the stand-in stops.
    pub fn hold_headers_until(mut self, gate: Gate) -> Reply {
        self.wire.headers_held = Some(gate);
        self
    }

    /// A pause before every frame after the first.
    pub fn event_delay(mut self, delay: Duration) -> Reply {
        self.wire.event_delay = delay;
        self
    }

    /// After the first `frames` frames, nothing at all is sent until `gate` opens: a stalled
    /// stream, or a turn the test knows is still running. (`frames` at or past the last frame holds
    /// the end of the body.)
    pub fn hold_after(mut self, frames: usize, gate: Gate) -> Reply {
        self.wire.hold = Some((frames, gate));
        self
    }
}
