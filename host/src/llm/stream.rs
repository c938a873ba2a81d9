//! Decoding Anthropic's event stream: SSE frames (eventsource-stream) become typed [`StreamEvent`]s.
//! Unknown event and delta types are skipped, as the API asks; a mid-stream `error` event, a stall,
//! a transport failure or an end without `message_stop` become one final `Err`, after which the stream
//! is over. The stream also ends right after `message_stop`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::error::{ErrorBody, LlmError, error_chain};
use super::stop_reason::StopReason;
use super::usage::UsageDelta;

/// One event of a streamed Claude response, in wire order.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    MessageStart {
        id: String,
        model: String,
        usage: UsageDelta,
    },
    ContentBlockStart {
        index: usize,
        block: BlockStart,
    },
    TextDelta {
        index: usize,
        text: String,
    },
    /// A fragment of a tool's input JSON; not valid JSON on its own.
    InputJsonDelta {
        index: usize,
        partial_json: String,
    },
    ThinkingDelta {
        index: usize,
        thinking: String,
    },
    SignatureDelta {
        index: usize,
        signature: String,
    },
    ContentBlockStop {
        index: usize,
    },
    /// `usage` is a running total: apply it with [`super::Usage::apply`], never add it.
    MessageDelta {
        stop_reason: Option<StopReason>,
        usage: UsageDelta,
    },
    MessageStop,
    Ping,
}

/// What kind of content block opens at an index.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockStart {
    Text,
    ToolUse {
        id: String,
        name: String,
    },
    Thinking,
    RedactedThinking {
        data: String,
    },
    /// A block type this client does not model (server tools, …), as sent.
    Other(Value),
}

/// The `data:` JSON of one event, tagged by its `type` (which equals the SSE event name).
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireEvent {
    MessageStart {
        message: WireMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: Value,
    },
    ContentBlockDelta {
        index: usize,
        delta: WireDelta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: WireMessageDelta,
        #[serde(default)]
        usage: UsageDelta,
    },
    MessageStop,
    Ping,
    Error {
        #[serde(flatten)]
        body: ErrorBody,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: UsageDelta,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct WireMessageDelta {
    #[serde(default)]
    stop_reason: Option<StopReason>,
}

/// What one SSE frame means to the caller.
enum Decoded {
    Event(StreamEvent),
    Skip,
    Failed(LlmError),
}

fn block_start(block: Value) -> BlockStart {
    let text = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    match block.get("type").and_then(Value::as_str) {
        Some("text") => BlockStart::Text,
        Some("tool_use") => BlockStart::ToolUse { id: text("id"), name: text("name") },
        Some("thinking") => BlockStart::Thinking,
        Some("redacted_thinking") => BlockStart::RedactedThinking { data: text("data") },
        _ => BlockStart::Other(block),
    }
}

fn decode(name: &str, data: &str, request_id: &Option<String>) -> Decoded {
    let event = match serde_json::from_str::<WireEvent>(data) {
        Ok(event) => event,
        // A frame we do not know with a body we cannot read: new event types must be ignored.
        Err(_) if !is_known_event(name) => return Decoded::Skip,
        Err(err) => return Decoded::Failed(LlmError::Decode(format!("malformed {name} event: {err}"))),
    };
    Decoded::Event(match event {
        WireEvent::MessageStart { message } => {
            StreamEvent::MessageStart { id: message.id, model: message.model, usage: message.usage }
        }
        WireEvent::ContentBlockStart { index, content_block } => {
            StreamEvent::ContentBlockStart { index, block: block_start(content_block) }
        }
        WireEvent::ContentBlockDelta { index, delta } => match delta {
            WireDelta::TextDelta { text } => StreamEvent::TextDelta { index, text },
            WireDelta::InputJsonDelta { partial_json } => StreamEvent::InputJsonDelta { index, partial_json },
            WireDelta::ThinkingDelta { thinking } => StreamEvent::ThinkingDelta { index, thinking },
            WireDelta::SignatureDelta { signature } => StreamEvent::SignatureDelta { index, signature },
            WireDelta::Unknown => return Decoded::Skip,
        },
        WireEvent::ContentBlockStop { index } => StreamEvent::ContentBlockStop { index },
        WireEvent::MessageDelta { delta, usage } => StreamEvent::MessageDelta { stop_reason: delta.stop_reason, usage },
        WireEvent::MessageStop => StreamEvent::MessageStop,
        WireEvent::Ping => StreamEvent::Ping,
        WireEvent::Error { body } => {
            return Decoded::Failed(LlmError::from_error_body(None, body, None, request_id.clone()));
        }
        WireEvent::Unknown => return Decoded::Skip,
    })
}

fn is_known_event(name: &str) -> bool {
    matches!(
        name,
        "message_start"
            | "content_block_start"
            | "content_block_delta"
            | "content_block_stop"
            | "message_delta"
            | "message_stop"
            | "ping"
            | "error"
    )
}

/// Fails the byte stream with [`LlmError::Timeout`] when no bytes arrive for `stall_timeout`.
pub(crate) fn with_stall_timeout<S, E>(
    bytes: S,
    stall_timeout: Duration,
) -> impl Stream<Item = Result<Bytes, LlmError>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::error::Error + Send + 'static,
{
    futures::stream::unfold(Some(Box::pin(bytes)), move |state| async move {
        let mut bytes = state?;
        match tokio::time::timeout(stall_timeout, bytes.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(bytes))),
            Ok(Some(Err(err))) => Some((Err(LlmError::Connection(error_chain(&err))), None)),
            Ok(None) => None,
            Err(_elapsed) => Some((Err(LlmError::Timeout), None)),
        }
    })
}

type EventResult = Result<StreamEvent, LlmError>;

/// The events of one streamed Claude response (see the module doc for how it ends).
pub struct MessageStream {
    inner: Pin<Box<dyn Stream<Item = EventResult> + Send>>,
    request_id: Option<String>,
}

impl MessageStream {
    /// Decodes an Anthropic event stream from raw body bytes. `request_id` is the response's
    /// `request-id` header (attached to errors); `stall_timeout` bounds the silence between chunks.
    pub fn from_bytes<S, E>(bytes: S, request_id: Option<String>, stall_timeout: Duration) -> MessageStream
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::error::Error + Send + 'static,
    {
        let events = Box::pin(with_stall_timeout(bytes, stall_timeout).eventsource());
        let state = DecodeState { events, request_id: request_id.clone(), finished: false };
        let inner = futures::stream::unfold(state, |mut state| async move {
            let item = state.next_item().await?;
            Some((item, state))
        });
        MessageStream { inner: Box::pin(inner), request_id }
    }

    /// A stream of already-typed events (another provider's response translated into Anthropic's
    /// events, see [`super::openai`]).
    pub(crate) fn from_events(
        events: impl Stream<Item = EventResult> + Send + 'static,
        request_id: Option<String>,
    ) -> MessageStream {
        MessageStream { inner: Box::pin(events), request_id }
    }

    /// Keeps `held` (a queue slot) until the stream is dropped.
    pub(crate) fn holding<T: Send + Sync + 'static>(self, held: T) -> MessageStream {
        let inner = self.inner.map(move |item| {
            let _held = &held;
            item
        });
        MessageStream { inner: Box::pin(inner), request_id: self.request_id }
    }

    /// Removes these secrets from the messages of the errors this stream yields.
    pub(crate) fn redacting(self, secrets: Vec<String>) -> MessageStream {
        let inner = self
            .inner
            .map(move |item| item.map_err(|err| err.redacted(&secrets.iter().map(String::as_str).collect::<Vec<_>>())));
        MessageStream { inner: Box::pin(inner), request_id: self.request_id }
    }

    /// Puts an already-read event back in front of the stream.
    pub(crate) fn prepend(self, first: StreamEvent) -> MessageStream {
        let inner = futures::stream::once(std::future::ready(Ok(first))).chain(self.inner);
        MessageStream { inner: Box::pin(inner), request_id: self.request_id }
    }

    /// Anthropic's `request-id` of this response.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Reads the whole stream into an [`super::AssistantTurn`]; the first error ends it.
    pub async fn collect_turn(mut self) -> Result<super::AssistantTurn, LlmError> {
        let mut accumulator = super::MessageAccumulator::new();
        while let Some(event) = self.next().await {
            accumulator.push(&event?);
        }
        Ok(accumulator.finish())
    }
}

impl Stream for MessageStream {
    type Item = EventResult;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<EventResult>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for MessageStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStream").field("request_id", &self.request_id).finish_non_exhaustive()
    }
}

type SseEvents = Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, EventStreamError<LlmError>>> + Send>>;

struct DecodeState {
    events: SseEvents,
    request_id: Option<String>,
    finished: bool,
}

impl DecodeState {
    /// The next item for the caller, or `None` once the stream is over.
    async fn next_item(&mut self) -> Option<EventResult> {
        if self.finished {
            return None;
        }
        loop {
            let frame = match self.events.next().await {
                Some(Ok(frame)) => frame,
                Some(Err(err)) => return self.fail(sse_error(err)),
                None => return self.fail(LlmError::StreamEnded),
            };
            match decode(&frame.event, &frame.data, &self.request_id) {
                Decoded::Event(StreamEvent::MessageStop) => {
                    self.finished = true;
                    return Some(Ok(StreamEvent::MessageStop));
                }
                Decoded::Event(event) => return Some(Ok(event)),
                Decoded::Skip => continue,
                Decoded::Failed(err) => return self.fail(err),
            }
        }
    }

    fn fail(&mut self, err: LlmError) -> Option<EventResult> {
        self.finished = true;
        Some(Err(err))
    }
}

fn sse_error(err: EventStreamError<LlmError>) -> LlmError {
    match err {
        EventStreamError::Transport(err) => err,
        EventStreamError::Utf8(err) => LlmError::Decode(format!("invalid UTF-8 in the event stream: {err}")),
        EventStreamError::Parser(err) => LlmError::Decode(format!("invalid event stream: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(chunks: Vec<&[u8]>) -> Vec<Result<StreamEvent, String>> {
        let chunks: Vec<_> = chunks.into_iter().map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c))).collect();
        let bytes = futures::stream::iter(chunks);
        let stream = MessageStream::from_bytes(bytes, Some("req_t".into()), Duration::from_secs(5));
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(stream.map(|r| r.map_err(|e| format!("{e:?}"))).collect())
    }

    #[test]
    fn frames_split_inside_a_multibyte_character_decode_intact() {
        let frame = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\
                     \"delta\":{\"type\":\"text_delta\",\"text\":\"h\u{e9}llo \u{1f44d}\"}}\n\n";
        let bytes = frame.as_bytes();
        let cut_in_e_acute = frame.find('\u{e9}').unwrap() + 1;
        let cut_in_emoji = frame.find('\u{1f44d}').unwrap() + 2;
        let events = events_of(vec![
            &bytes[..cut_in_e_acute],
            &bytes[cut_in_e_acute..cut_in_emoji],
            &bytes[cut_in_emoji..],
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        ]);
        assert_eq!(
            events,
            vec![
                Ok(StreamEvent::TextDelta { index: 0, text: "h\u{e9}llo \u{1f44d}".into() }),
                Ok(StreamEvent::MessageStop)
            ]
        );
    }

    #[test]
    fn unknown_events_and_delta_types_are_skipped() {
        let events = events_of(vec![
            b"event: brand_new_event\ndata: {\"type\":\"brand_new_event\",\"x\":1}\n\n",
            b"event: weird\ndata: not json at all\n\n",
            b": a comment\n\n",
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\
              \"delta\":{\"type\":\"citations_delta\",\"citation\":{}}}\n\n",
            b"event: ping\ndata: {\"type\": \"ping\"}\n\n",
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        ]);
        assert_eq!(events, vec![Ok(StreamEvent::Ping), Ok(StreamEvent::MessageStop)]);
    }

    #[test]
    fn a_malformed_known_event_is_a_decode_error_and_ends_the_stream() {
        let events = events_of(vec![
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\"\n\n",
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        ]);
        assert_eq!(events.len(), 1);
        assert!(events[0].as_ref().unwrap_err().starts_with("Decode("), "{events:?}");
    }

    #[test]
    fn an_end_without_message_stop_is_stream_ended() {
        let events = events_of(vec![b"event: ping\ndata: {\"type\":\"ping\"}\n\n"]);
        assert_eq!(events, vec![Ok(StreamEvent::Ping), Err("StreamEnded".into())]);
    }

    #[test]
    fn nothing_is_read_after_message_stop() {
        let events = events_of(vec![
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"late\"}}\n\n",
        ]);
        assert_eq!(events, vec![Ok(StreamEvent::MessageStop)]);
    }

    #[test]
    fn crlf_framing_is_accepted() {
        let events = events_of(vec![b"event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n"]);
        assert_eq!(events, vec![Ok(StreamEvent::MessageStop)]);
    }

    #[tokio::test]
    async fn a_silent_stream_times_out() {
        let bytes = futures::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from_static(
            b"event: ping\ndata: {\"type\":\"ping\"}\n\n",
        ))])
        .chain(futures::stream::pending());
        let stream = MessageStream::from_bytes(bytes, None, Duration::from_millis(50));
        let events: Vec<_> = stream.map(|r| r.map_err(|e| format!("{e:?}"))).collect().await;
        assert_eq!(events, vec![Ok(StreamEvent::Ping), Err("Timeout".into())]);
    }
}
