//! One chat turn, from the pre-flight checks to `message_end`.
//!
//! Pre-flight ([`preflight`]: flags, session, quota, the user message) ends in a single `error`
//! event when it fails, as the original did. Then up to ten Claude calls ([`claude`]): text is
//! forwarded as it streams, a `function_call` goes out as soon as a tool block opens, and when
//! Claude stops for tools they all run concurrently through the tool runtime ([`tool_calls`]), each
//! `function_result` sent as it finishes and every result returned to Claude in one user message.
//! Last, the reply is persisted and the last event sent ([`finish`]). The turn runs in its own task:
//! a client that disconnects does not stop it, and the reply is persisted either way.

mod claude;
mod finish;
mod preflight;
mod tool_calls;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use store::Store;
use tools::Registry;
use uuid::Uuid;

use super::catalog::ToolCatalog;
use super::events::{ChatEvent, ContentDelta, ErrorEvent, MessageStart};
use super::imports::PendingImports;
use super::request::{ChatContext, TurnRequest};
use super::sink::EventSink;
use crate::auth::AuthUser;
use crate::config::Config;
use crate::live::Live;
use crate::live::lease::LiveTurn;
use crate::llm::{ApiMessage, AssistantTurn, ContentBlock, LlmRouter, Provider, Role, StopReason, ToolDef, Usage};
use crate::quota::Reservation;
use crate::shutdown::Shutdown;
use crate::telemetry::turn_metrics::TurnMetrics;

/// Claude calls per turn at most (the original's `MAX_TOOL_ITERATIONS`).
pub const MAX_CLAUDE_CALLS: u32 = 10;
/// Interval of `heartbeat` events while a tool runs.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// Shown when the model refuses without having said anything.
const REFUSAL_TEXT: &str = "I'm sorry, but I can't help with that request.";

/// What a turn needs from the service.
#[derive(Clone)]
pub struct TurnDeps {
    pub config: Arc<Config>,
    pub store: Store,
    /// Anthropic, and the OpenAI fallback when configured.
    pub llm: Arc<LlmRouter>,
    pub tools: Arc<Registry>,
    pub catalog: Arc<ToolCatalog>,
    pub shutdown: Shutdown,
    /// The shared state of running turns: event logs, stops, leases, the per-user cap.
    pub live: Live,
}

/// One valid request of one user.
pub struct TurnInput {
    pub user: AuthUser,
    pub request: TurnRequest,
    pub request_id: String,
}

/// Runs a whole turn, sending its events to `sink`. The caller runs it in a span naming the
/// request, the user and (once known) the session.
pub async fn run(deps: TurnDeps, input: TurnInput, mut sink: EventSink) {
    let metrics = TurnMetrics::start();
    let result = match preflight::preflight(&deps, input, &mut sink, &metrics).await {
        Ok(mut turn) => {
            let ending = turn.run(&mut sink, &metrics).await;
            turn.finish(ending, &mut sink, &metrics).await
        }
        Err(refused) => {
            sink.send(refused.event()).await;
            Err(refused.metric_reason())
        }
    };
    let elapsed = metrics.finished(result);
    let outcome = result.err().unwrap_or("finished");
    tracing::info!(outcome, elapsed_ms = elapsed.as_millis() as u64, "turn finished");
}

/// A turn past its pre-flight.
struct Turn {
    deps: TurnDeps,
    /// The turn's stop token, lease and slot under its user's cap, held until the turn is dropped.
    live: LiveTurn,
    who: Who,
    /// The quota unit this message took; given back only if nothing of the reply reached the user.
    reservation: Reservation,
    conversation: Conversation,
    tally: Tally,
}

/// Who the turn is for.
struct Who {
    user: AuthUser,
    request_id: String,
    session_id: Uuid,
}

/// What Claude is shown: the session so far, this turn's context, and this turn's messages.
struct Conversation {
    history: Vec<ApiMessage>,
    context: Option<ChatContext>,
    pending: PendingImports,
    tool_defs: Arc<[ToolDef]>,
    /// The messages of this turn after the user's: assistant replies and tool results.
    transcript: Vec<ApiMessage>,
}

/// What the turn produced so far: the reply row and `message_end` are made of it.
#[derive(Default)]
struct Tally {
    /// All text the assistant streamed in this turn.
    text: String,
    /// `{id, name, input, result}` of every tool call, for the assistant row.
    tool_records: Vec<Value>,
    /// Summed over the turn's Claude calls.
    usage: Usage,
    latency: Duration,
    stop_reason: Option<StopReason>,
    /// Assistant output reached the client or a tool ran: the quota unit is spent.
    output_seen: bool,
    /// The provider of the turn's calls: OpenAI from the moment the turn fell back.
    provider: Provider,
    /// The model that wrote the latest reply (as the provider reported it).
    model: Option<String>,
}

/// How the loop ended.
enum Ending {
    Complete,
    /// The AI provider failed; `event` says how, `reason` is the metric's label.
    Failed {
        event: ChatEvent,
        reason: &'static str,
    },
    /// The shutdown deadline passed.
    Shutdown,
    /// The user stopped the turn (`POST /chat/turns/{turn_id}/stop`).
    Stopped,
}

impl Turn {
    async fn run(&mut self, sink: &mut EventSink, metrics: &TurnMetrics) -> Ending {
        let turn_id = self.live.turn().to_string();
        let trace_id = crate::telemetry::otel::recording_trace_id(&tracing::Span::current());
        sink.send(ChatEvent::MessageStart(MessageStart { session_id: self.who.session_id, turn_id, trace_id })).await;
        for call in 1..=MAX_CLAUDE_CALLS {
            let reply = match self.call_claude(sink, metrics).await {
                Ok(reply) => reply,
                Err(failure) => return self.call_failed(failure),
            };
            self.tally.stop_reason = reply.stop_reason.clone();
            let said_nothing = reply.text().trim().is_empty();
            let AssistantTurn { content, tool_uses, stop_reason, .. } = reply;
            match stop_reason {
                Some(StopReason::Refusal) => {
                    if said_nothing {
                        sink.send(ChatEvent::ContentDelta(ContentDelta { text: REFUSAL_TEXT.to_string() })).await;
                        self.tally.text.push_str(REFUSAL_TEXT);
                    }
                    self.say(content);
                    return Ending::Complete;
                }
                // A server tool paused; sending the reply back as-is lets Claude continue.
                Some(StopReason::PauseTurn) if call < MAX_CLAUDE_CALLS => self.say(content),
                // Claude is called again with the results.
                Some(StopReason::ToolUse) if !tool_uses.is_empty() => {
                    self.say(content);
                    if !self.run_tools(&tool_uses, sink).await {
                        return self.interrupted();
                    }
                }
                // Cut off at max_tokens: the complete tool calls run (the cut one was left out), then
                // the turn ends.
                Some(StopReason::MaxTokens) if !tool_uses.is_empty() => {
                    self.say(content);
                    return if self.run_tools(&tool_uses, sink).await { Ending::Complete } else { self.interrupted() };
                }
                Some(
                    StopReason::EndTurn
                    | StopReason::StopSequence
                    | StopReason::PauseTurn
                    | StopReason::ToolUse
                    | StopReason::MaxTokens
                    | StopReason::Other(_),
                )
                | None => {
                    self.say(content);
                    return Ending::Complete;
                }
            }
        }
        Ending::Complete
    }

    /// Why the turn was cut short without an error: the user's stop, or the shutdown deadline.
    fn interrupted(&self) -> Ending {
        if self.live.stopped().is_cancelled() { Ending::Stopped } else { Ending::Shutdown }
    }

    /// Adds an assistant message to the turn's transcript (empty replies are not valid messages).
    fn say(&mut self, content: Vec<ContentBlock>) {
        if !content.is_empty() {
            self.conversation.transcript.push(ApiMessage { role: Role::Assistant, content });
        }
    }

    /// What a failed Claude call means for the turn: what it said is kept, the error decides the
    /// ending.
    fn call_failed(&mut self, failure: claude::CallFailure) -> Ending {
        self.tally.text.push_str(&failure.partial_text);
        self.say(if failure.partial_text.is_empty() {
            Vec::new()
        } else {
            vec![ContentBlock::Text { text: failure.partial_text }]
        });
        match failure.error {
            None => self.interrupted(),
            Some(err) => {
                tracing::warn!(error = %err, anthropic_request_id = err.request_id(), "Claude call failed");
                crate::telemetry::sentry::capture_upstream_error(&err);
                if err.client_error_type() == "rate_limit" {
                    Ending::Failed { event: ErrorEvent::ai_busy(), reason: "upstream_busy" }
                } else {
                    Ending::Failed { event: ErrorEvent::ai_error(), reason: "upstream_error" }
                }
            }
        }
    }
}

/// Gives a quota unit back, logging a failure (the turn goes on either way).
async fn give_back(reservation: Reservation, store: &Store) {
    if let Err(err) = reservation.refund(store).await {
        tracing::error!(error = %err, "quota refund failed");
    }
}
