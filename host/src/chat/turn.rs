//! One chat turn, from the pre-flight checks to `message_end`.
//!
//! Pre-flight (flags, session, quota, the user message) ends in a single `error` event when it
//! fails, as the original did. Then up to ten Claude calls: text is forwarded as it streams, a
//! `function_call` goes out as soon as a tool block opens, and when Claude stops for tools they all
//! run concurrently through the tool runtime, each `function_result` sent as it finishes and every
//! result returned to Claude in one user message. The turn runs in its own task: a client that
//! disconnects does not stop it, and the reply is persisted either way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{NewMessage, Role as StoreRole, Store};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};
use tools::{Caller, Registry, ToolCall};
use tracing::Instrument;
use uuid::Uuid;

use super::events::{
    ChatEvent, ContentDelta, ErrorEvent, ErrorType, FunctionCall, FunctionResult, Heartbeat, MessageEnd, MessageStart,
};
use super::history;
use super::imports::PendingImports;
use super::prompt;
use super::request::ChatRequest;
use super::sink::EventSink;
use crate::auth::AuthUser;
use crate::config::Config;
use crate::llm::{
    AnthropicClient, ApiMessage, AssistantTurn, BlockStart, ContentBlock, LlmError, MessageAccumulator,
    MessagesRequest, RequestMeta, Role, StreamEvent, ToolDef, ToolUseBlock,
};
use crate::quota::{self, Admitted};
use crate::shutdown::Shutdown;

/// Claude calls per turn at most (the original's `MAX_TOOL_ITERATIONS`).
pub const MAX_CLAUDE_CALLS: u32 = 10;
/// Interval of `heartbeat` events while a tool runs.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// Retries of a Claude call that failed mid-stream before anything reached the client.
const MID_STREAM_RETRIES: u32 = 2;
/// Shown when the model refuses without having said anything.
const REFUSAL_TEXT: &str = "I'm sorry, but I can't help with that request.";
/// What the model sees for a tool call whose arguments were not valid JSON (the original's text).
const INVALID_ARGUMENTS: &str = "Error: Invalid tool arguments received. Please try again.";

/// What a turn needs from the service.
#[derive(Clone)]
pub struct TurnDeps {
    pub config: Arc<Config>,
    pub store: Store,
    pub llm: Arc<AnthropicClient>,
    pub tools: Arc<Registry>,
    pub catalog: Arc<super::catalog::ToolCatalog>,
    pub shutdown: Shutdown,
}

/// One validated request of one user.
pub struct TurnInput {
    pub user: AuthUser,
    pub request: ChatRequest,
    pub request_id: String,
}

/// Runs a whole turn, sending its events to `sink`. The caller runs it in a span naming the
/// request, the user and (once known) the session.
pub async fn run(deps: TurnDeps, input: TurnInput, mut sink: EventSink) {
    let started = Instant::now();
    metrics::counter!("chat_turns_started_total").increment(1);
    let result = match preflight(&deps, &input, &mut sink).await {
        Ok(mut turn) => {
            let ending = turn.run(&mut sink).await;
            turn.finish(ending, &mut sink).await
        }
        Err(event) => {
            let reason = match &event {
                ChatEvent::Error(e) => preflight_reason(e.kind),
                _ => "internal_error",
            };
            sink.send(event).await;
            Err(reason)
        }
    };
    let elapsed = started.elapsed();
    let outcome = match result {
        Ok(()) => {
            metrics::counter!("chat_turns_finished_total").increment(1);
            "finished"
        }
        Err(reason) => {
            metrics::counter!("chat_turns_failed_total", "reason" => reason).increment(1);
            reason
        }
    };
    let label = if result.is_ok() { "finished" } else { "failed" };
    metrics::histogram!("chat_turn_duration_seconds", "outcome" => label).record(elapsed.as_secs_f64());
    tracing::info!(outcome, elapsed_ms = elapsed.as_millis() as u64, "turn finished");
}

/// The `chat_turns_failed_total` reason of a pre-flight refusal.
fn preflight_reason(kind: ErrorType) -> &'static str {
    match kind {
        ErrorType::FeatureDisabled => "feature_disabled",
        ErrorType::RateLimitExceeded => "quota_exceeded",
        ErrorType::NotFound => "session_not_found",
        _ => "internal_error",
    }
}

/// Flags, session, quota and the user message; a failure is the one event the client gets.
async fn preflight(deps: &TurnDeps, input: &TurnInput, sink: &mut EventSink) -> Result<Turn, ChatEvent> {
    let store = &deps.store;
    let user_id = input.user.user_id.as_str();
    let unexpected = |err: &dyn std::fmt::Display| {
        tracing::error!(error = %err, "turn pre-flight failed");
        ErrorEvent::unexpected()
    };

    let flags = store.feature_flags(user_id).await.map_err(|e| unexpected(&e))?;
    if !flags.chat_allowed() {
        return Err(ErrorEvent::feature_disabled());
    }

    // A malformed id never gets here: the request's validation refused it with a 422.
    let existing = match input.request.session_uuid() {
        None => None,
        Some(id) => match store.get_session(id, user_id).await {
            Ok(Some(session)) => Some(session),
            Ok(None) => return Err(ErrorEvent::session_not_found()),
            Err(err) => {
                tracing::error!(error = %err, "session lookup failed");
                return Err(ErrorEvent::session_failed());
            }
        },
    };

    let admitted = match quota::reserve(store, &deps.config.quota, &flags, user_id, chrono::Utc::now()).await {
        Ok(Ok(admitted)) => admitted,
        Ok(Err(exceeded)) => {
            metrics::counter!("chat_quota_rejections_total").increment(1);
            return Err(ErrorEvent::rate_limit_exceeded(exceeded.usage, exceeded.limit, exceeded.retry_after));
        }
        Err(err) => return Err(unexpected(&err)),
    };
    let refund = |deps: &TurnDeps| {
        let (store, user, period) = (deps.store.clone(), user_id.to_string(), admitted.period);
        async move {
            if let Err(err) = store.refund_message(&user, period).await {
                tracing::error!(error = %err, "quota refund failed");
            }
        }
    };

    let session = match existing {
        Some(session) => session,
        None => {
            match store.create_session(user_id, &store::sessions::title_from_message(&input.request.message)).await
            {
                Ok(session) => session,
                Err(err) => {
                    tracing::error!(error = %err, "session create failed");
                    refund(deps).await;
                    return Err(ErrorEvent::session_failed());
                }
            }
        }
    };

    let user_message = NewMessage {
        session_id: session.id,
        user_id: user_id.to_string(),
        role: Some(StoreRole::User),
        content: Some(input.request.message.clone()),
        ..Default::default()
    };
    let message_id = match store.insert_message(&user_message).await {
        Ok(id) => id,
        Err(err) => {
            refund(deps).await;
            return Err(unexpected(&err));
        }
    };
    sink.set_turn(message_id.simple().to_string());
    tracing::Span::current().record("session_id", tracing::field::display(session.id));

    let rows = match store.message_page(session.id, history::MAX_ROWS, None).await {
        Ok(page) => page.messages,
        Err(err) => {
            refund(deps).await;
            return Err(unexpected(&err));
        }
    };
    let history = history::build(&rows, deps.config.anthropic.history_token_budget);
    let context = input.request.context.clone();
    let pending = PendingImports::new(context.as_ref().and_then(|c| c.pending_imports.clone()));
    Ok(Turn {
        deps: deps.clone(),
        user: input.user.clone(),
        request_id: input.request_id.clone(),
        session_id: session.id,
        admitted,
        history,
        context,
        tool_defs: deps.catalog.definitions(&deps.tools),
        transcript: Vec::new(),
        text: String::new(),
        tool_records: Vec::new(),
        usage: UsageSum::default(),
        latency: Duration::ZERO,
        stop_reason: None,
        output_seen: false,
        pending,
    })
}

/// Token counts summed over the turn's Claude calls.
#[derive(Clone, Copy, Debug, Default)]
struct UsageSum {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_creation: u64,
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
}

/// A turn past its pre-flight.
struct Turn {
    deps: TurnDeps,
    user: AuthUser,
    request_id: String,
    session_id: Uuid,
    admitted: Admitted,
    history: Vec<ApiMessage>,
    context: Option<super::request::ChatContext>,
    tool_defs: Arc<[ToolDef]>,
    /// The messages of this turn after the user's: assistant replies and tool results.
    transcript: Vec<ApiMessage>,
    /// All text the assistant streamed in this turn.
    text: String,
    /// `{id, name, input, result}` of every tool call, for the assistant row.
    tool_records: Vec<Value>,
    usage: UsageSum,
    latency: Duration,
    stop_reason: Option<String>,
    /// Assistant output reached the client or a tool ran: the quota unit is spent.
    output_seen: bool,
    pending: PendingImports,
}

/// A Claude call that did not complete.
struct CallFailure {
    /// `None` when the shutdown deadline interrupted it.
    error: Option<LlmError>,
    /// Text of this call already forwarded to the client.
    partial_text: String,
}

/// What one attempt of a Claude call has forwarded to the client so far.
#[derive(Default)]
struct Forwarded {
    text: String,
    /// Any event (text or `function_call`) went out: the attempt can no longer be retried.
    any: bool,
}

impl Turn {
    async fn run(&mut self, sink: &mut EventSink) -> Ending {
        sink.send(ChatEvent::MessageStart(MessageStart { session_id: self.session_id })).await;
        for call in 1..=MAX_CLAUDE_CALLS {
            let reply = match self.call_claude(sink).await {
                Ok(reply) => reply,
                Err(failure) => {
                    self.text.push_str(&failure.partial_text);
                    if !failure.partial_text.is_empty() {
                        self.transcript.push(ApiMessage {
                            role: Role::Assistant,
                            content: vec![ContentBlock::Text { text: failure.partial_text }],
                        });
                    }
                    return match failure.error {
                        None => Ending::Shutdown,
                        Some(err) => {
                            tracing::warn!(error = %err, anthropic_request_id = err.request_id(), "Claude call failed");
                            crate::telemetry::sentry::capture_upstream_error(&err);
                            if err.client_error_type() == "rate_limit" {
                                Ending::Failed { event: ErrorEvent::ai_busy(), reason: "upstream_busy" }
                            } else {
                                Ending::Failed { event: ErrorEvent::ai_error(), reason: "upstream_error" }
                            }
                        }
                    };
                }
            };
            self.stop_reason = reply.stop_reason.clone();
            let complete_uses: Vec<ToolUseBlock> = reply.tool_uses.clone();
            let mut content = reply.content.clone();
            if reply.unfinished_tool_use {
                // max_tokens inside a tool block: that call is incomplete and must not run.
                let complete: std::collections::HashSet<&str> = complete_uses.iter().map(|u| u.id.as_str()).collect();
                content.retain(|b| !matches!(b, ContentBlock::ToolUse { id, .. } if !complete.contains(id.as_str())));
            }
            match reply.stop_reason.as_deref() {
                Some("refusal") => {
                    if reply_text(&content).trim().is_empty() {
                        sink.send(ChatEvent::ContentDelta(ContentDelta { text: REFUSAL_TEXT.to_string() })).await;
                        self.text.push_str(REFUSAL_TEXT);
                    }
                    if !content.is_empty() {
                        self.transcript.push(ApiMessage { role: Role::Assistant, content });
                    }
                    return Ending::Complete;
                }
                Some("pause_turn") if call < MAX_CLAUDE_CALLS => {
                    // A server tool paused; sending the reply back as-is lets Claude continue.
                    self.transcript.push(ApiMessage { role: Role::Assistant, content });
                    continue;
                }
                _ => {}
            }
            if content.is_empty() {
                return Ending::Complete;
            }
            self.transcript.push(ApiMessage { role: Role::Assistant, content });
            let wants_tools = matches!(reply.stop_reason.as_deref(), Some("tool_use") | Some("max_tokens"));
            if !wants_tools || complete_uses.is_empty() {
                return Ending::Complete;
            }
            let results = match self.run_tools(&complete_uses, sink).await {
                Some(results) => results,
                None => return Ending::Shutdown,
            };
            self.transcript.push(ApiMessage { role: Role::User, content: results });
            if reply.stop_reason.as_deref() != Some("tool_use") {
                return Ending::Complete;
            }
        }
        Ending::Complete
    }

    /// One Claude call, streamed to the client. Failures before anything of this call reached the
    /// client are retried; the client already retried HTTP-level failures.
    async fn call_claude(&mut self, sink: &mut EventSink) -> Result<AssistantTurn, CallFailure> {
        let mut messages = self.history.clone();
        messages.extend(self.transcript.iter().cloned());
        let request = MessagesRequest {
            model: self.deps.config.anthropic.model.clone(),
            max_tokens: self.deps.config.anthropic.max_tokens,
            system: prompt::system_prompt(self.context.as_ref(), self.pending.items()),
            messages,
            tools: self.tool_defs.clone(),
        };
        let meta = RequestMeta {
            user_id: self.user.user_id.clone(),
            session_id: Some(self.session_id.to_string()),
            request_id: self.request_id.clone(),
        };
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut forwarded = Forwarded::default();
            let shutdown = self.deps.shutdown.clone();
            let result = tokio::select! {
                result = self.stream_once(&request, &meta, sink, &mut forwarded) => result,
                _ = shutdown.deadline() => Err(None),
            };
            match result {
                Ok(reply) => {
                    let elapsed = started.elapsed();
                    self.latency += elapsed;
                    self.usage.input += reply.usage.input_tokens;
                    self.usage.output += reply.usage.output_tokens;
                    self.usage.cache_read += reply.usage.cache_read_input_tokens;
                    self.usage.cache_creation += reply.usage.cache_creation_input_tokens;
                    record_call_metrics("ok", elapsed);
                    if let Some(reason) = &reply.stop_reason {
                        metrics::counter!("chat_claude_stop_reasons_total", "reason" => reason.clone()).increment(1);
                    }
                    return Ok(reply);
                }
                Err(Some(err)) if !forwarded.any && err.is_retryable() && attempt <= MID_STREAM_RETRIES => {
                    tracing::warn!(error = %err, anthropic_request_id = err.request_id(), attempt, "Claude stream failed before output; retrying");
                    tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                }
                Err(error) => {
                    self.latency += started.elapsed();
                    record_call_metrics(error.as_ref().map_or("shutdown", LlmError::kind), started.elapsed());
                    return Err(CallFailure { error, partial_text: forwarded.text });
                }
            }
        }
    }

    /// Streams one attempt; `forwarded` records what reached the client.
    async fn stream_once(
        &mut self,
        request: &MessagesRequest,
        meta: &RequestMeta,
        sink: &mut EventSink,
        forwarded: &mut Forwarded,
    ) -> Result<AssistantTurn, Option<LlmError>> {
        let mut stream = self.deps.llm.stream(request, meta).await.map_err(Some)?;
        let mut acc = MessageAccumulator::new();
        while let Some(event) = stream.next().await {
            let event = event.map_err(Some)?;
            match &event {
                StreamEvent::TextDelta { text, .. } => {
                    sink.send(ChatEvent::ContentDelta(ContentDelta { text: text.clone() })).await;
                    forwarded.text.push_str(text);
                    forwarded.any = true;
                    self.output_seen = true;
                }
                StreamEvent::ContentBlockStart { block: BlockStart::ToolUse { id, name }, .. } => {
                    sink.send(ChatEvent::FunctionCall(FunctionCall { id: id.clone(), name: name.clone() })).await;
                    forwarded.any = true;
                }
                _ => {}
            }
            let stop = matches!(event, StreamEvent::MessageStop);
            acc.push(&event);
            if stop {
                break;
            }
        }
        let reply = acc.finish();
        self.text.push_str(&std::mem::take(&mut forwarded.text));
        Ok(reply)
    }

    /// Runs the tool calls of one reply concurrently. Returns the `tool_result` blocks in the order
    /// of the calls, or `None` when the shutdown deadline interrupted them.
    async fn run_tools(&mut self, uses: &[ToolUseBlock], sink: &mut EventSink) -> Option<Vec<ContentBlock>> {
        let started = Instant::now();
        let mut results: Vec<Option<(String, bool)>> = vec![None; uses.len()];
        let mut running = FuturesUnordered::new();
        for (i, tool_use) in uses.iter().enumerate() {
            if tool_use.input_error.is_some() {
                self.tool_finished(tool_use, INVALID_ARGUMENTS.to_string(), true, sink).await;
                results[i] = Some((INVALID_ARGUMENTS.to_string(), true));
                continue;
            }
            let tools: Arc<Registry> = self.deps.tools.clone();
            let call = ToolCall {
                function: tool_use.name.clone(),
                arguments: tool_use.input.clone(),
                caller: Caller {
                    user_id: self.user.user_id.clone(),
                    session_id: Some(self.session_id.to_string()),
                    request_id: self.request_id.clone(),
                    authorization: self.user.authorization.clone(),
                },
            };
            let span = tracing::info_span!("tool_call", function = %tool_use.name, tool_use_id = %tool_use.id);
            running.push(async move { (i, tools.call(call).await) }.instrument(span));
        }
        self.output_seen = true;
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
        let shutdown = self.deps.shutdown.clone();
        while !running.is_empty() {
            tokio::select! {
                Some((i, outcome)) = running.next() => {
                    let text = outcome.result_text();
                    if outcome.is_error() {
                        tracing::info!(function = %uses[i].name, plugin = ?outcome.plugin, result = %text, "tool call failed");
                    }
                    self.tool_finished(&uses[i], text.clone(), outcome.is_error(), sink).await;
                    results[i] = Some((text, outcome.is_error()));
                }
                _ = heartbeat.tick() => {
                    for (i, tool_use) in uses.iter().enumerate() {
                        if results[i].is_none() {
                            sink.send(ChatEvent::Heartbeat(Heartbeat {
                                status: "executing_tool",
                                tool_name: tool_use.name.clone(),
                                elapsed_seconds: started.elapsed().as_secs(),
                            })).await;
                        }
                    }
                }
                _ = shutdown.deadline() => return None,
            }
        }
        Some(
            uses.iter()
                .zip(results)
                .map(|(tool_use, result)| {
                    let (content, is_error) = result.unwrap_or_else(|| (INVALID_ARGUMENTS.to_string(), true));
                    ContentBlock::ToolResult { tool_use_id: tool_use.id.clone(), content, is_error }
                })
                .collect(),
        )
    }

    /// Sends `function_result`, records the call and persists its `tool_result` row.
    async fn tool_finished(&mut self, tool_use: &ToolUseBlock, result: String, is_error: bool, sink: &mut EventSink) {
        sink.send(ChatEvent::FunctionResult(FunctionResult {
            tool_use_id: tool_use.id.clone(),
            name: tool_use.name.clone(),
            result: result.clone(),
        }))
        .await;
        if !is_error {
            self.pending.observe(&tool_use.input, &result);
        }
        self.tool_records
            .push(json!({"id": tool_use.id, "name": tool_use.name, "input": tool_use.input, "result": result}));
        let row = NewMessage {
            session_id: self.session_id,
            user_id: self.user.user_id.clone(),
            role: Some(StoreRole::ToolResult),
            content: Some(result),
            tool_use_id: Some(tool_use.id.clone()),
            tool_calls: Some(json!([{"name": tool_use.name, "input": tool_use.input, "is_error": is_error}])),
            ..Default::default()
        };
        if let Err(err) = self.deps.store.insert_message(&row).await {
            tracing::error!(error = %err, "persisting a tool result failed");
        }
    }

    /// Persists the reply and sends the last event. `Err` carries the failure reason.
    async fn finish(self, ending: Ending, sink: &mut EventSink) -> Result<(), &'static str> {
        let (incomplete, last_event, failure) = match ending {
            Ending::Complete => (false, None, None),
            Ending::Failed { event, reason } => (true, Some(event), Some(reason)),
            Ending::Shutdown => (true, Some(ErrorEvent::shutting_down()), Some("shutdown")),
        };
        if incomplete && !self.output_seen {
            // Nothing of the reply reached the user: the message does not count.
            if let Err(err) = self.deps.store.refund_message(&self.user.user_id, self.admitted.period).await {
                tracing::error!(error = %err, "quota refund failed");
            }
        }
        if !incomplete || self.output_seen {
            let row = NewMessage {
                session_id: self.session_id,
                user_id: self.user.user_id.clone(),
                role: Some(StoreRole::Assistant),
                content: Some(self.text.clone()),
                tool_calls: (!self.tool_records.is_empty()).then(|| Value::Array(self.tool_records.clone())),
                model: Some(self.deps.config.anthropic.model.clone()),
                latency_ms: Some(clamp_i32(self.latency.as_millis() as u64)),
                input_tokens: Some(clamp_i32(self.usage.input)),
                output_tokens: Some(clamp_i32(self.usage.output)),
                cache_read_input_tokens: Some(clamp_i32(self.usage.cache_read)),
                cache_creation_input_tokens: Some(clamp_i32(self.usage.cache_creation)),
                incomplete,
                stop_reason: self.stop_reason.clone(),
                transcript: serde_json::to_value(&self.transcript).ok(),
                ..Default::default()
            };
            if let Err(err) = self.deps.store.insert_message(&row).await {
                tracing::error!(error = %err, "persisting the assistant reply failed");
                if last_event.is_none() {
                    sink.send(ErrorEvent::unexpected()).await;
                    return Err("persist_failed");
                }
            }
        }
        metrics::counter!("chat_tokens_total", "kind" => "input").increment(self.usage.input);
        metrics::counter!("chat_tokens_total", "kind" => "output").increment(self.usage.output);
        metrics::counter!("chat_tokens_total", "kind" => "cache_read").increment(self.usage.cache_read);
        metrics::counter!("chat_tokens_total", "kind" => "cache_creation").increment(self.usage.cache_creation);
        match last_event {
            Some(event) => sink.send(event).await,
            None => {
                sink.send(ChatEvent::MessageEnd(MessageEnd {
                    session_id: self.session_id,
                    tokens_used: self.usage.input + self.usage.output,
                    latency_ms: self.latency.as_millis() as u64,
                    pending_imports: self.pending.for_message_end(),
                }))
                .await
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

fn reply_text(content: &[ContentBlock]) -> String {
    content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn clamp_i32(v: u64) -> i32 {
    v.min(i32::MAX as u64) as i32
}

/// Counts a Claude call by `outcome` (`ok` or the error kind) and times it (`ok` or `error`).
fn record_call_metrics(outcome: &'static str, elapsed: Duration) {
    metrics::counter!("chat_claude_calls_total", "outcome" => outcome).increment(1);
    let timed = if outcome == "ok" { "ok" } else { "error" };
    metrics::histogram!("chat_claude_call_duration_seconds", "outcome" => timed).record(elapsed.as_secs_f64());
}
