//! One Claude call of a turn, streamed to the client as it arrives: text as `content_delta`, a tool
//! block as `function_call` the moment it opens. A call that fails before anything of it reached the
//! client is tried again (the client already retried HTTP-level failures), or, when Anthropic is the
//! one failing and a fallback is configured, made on OpenAI instead (the router in
//! `crate::llm::fallback` decides); one that fails after keeps what the user saw.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tracing::Instrument;

use super::Turn;
use crate::chat::events::{ChatEvent, ContentDelta, FunctionCall};
use crate::chat::prompt;
use crate::chat::sink::EventSink;
use crate::llm::{
    AssistantTurn, BlockStart, LlmError, MessageAccumulator, MessagesRequest, Provider, Recovery, RequestMeta,
    StreamEvent,
};
use crate::telemetry::turn_metrics::TurnMetrics;

/// Retries of a Claude call that failed mid-stream before anything reached the client.
const MID_STREAM_RETRIES: u32 = 2;

/// A Claude call that did not complete.
pub(super) struct CallFailure {
    /// `None` when the shutdown deadline or the user's stop interrupted it.
    pub(super) error: Option<LlmError>,
    /// Text of this call already forwarded to the client.
    pub(super) partial_text: String,
}

/// What one attempt of a Claude call has forwarded to the client so far.
#[derive(Default)]
struct Forwarded {
    text: String,
    /// Any event (text or `function_call`) went out: the attempt can no longer be retried.
    any: bool,
    /// The stream had begun: the client's retries (before the first event) are behind it.
    opened: bool,
}

impl Turn {
    /// One Claude call over the conversation so far.
    pub(super) async fn call_claude(
        &mut self,
        sink: &mut EventSink,
        metrics: &TurnMetrics,
    ) -> Result<AssistantTurn, CallFailure> {
        let conversation = &self.conversation;
        let mut messages = conversation.history.clone();
        messages.extend(conversation.transcript.iter().cloned());
        let request = MessagesRequest {
            model: self.deps.config.anthropic.model.clone(),
            max_tokens: self.deps.config.anthropic.max_tokens,
            system: prompt::system_prompt(conversation.context.as_ref(), conversation.pending.items()),
            messages,
            tools: conversation.tool_defs.clone(),
        };
        let meta = RequestMeta {
            user_id: self.who.user.user_id.clone(),
            session_id: Some(self.who.session_id.to_string()),
            request_id: self.who.request_id.clone(),
        };
        let mut started = Instant::now();
        // A turn that fell back stays on the fallback: Anthropic just failed it.
        let mut provider =
            if self.tally.provider == Provider::OpenAi { Provider::OpenAi } else { self.deps.llm.choose() };
        self.tally.provider = provider;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut forwarded = Forwarded::default();
            let shutdown = self.deps.shutdown.clone();
            let stopped = self.live.stopped().clone();
            // Dropping the stream on a stop closes the connection to Claude at once.
            let span = tracing::info_span!(
                "llm_call",
                provider = provider.label(),
                model = self.deps.llm.model(provider),
                attempt,
                outcome = tracing::field::Empty,
            );
            let result = tokio::select! {
                result = self.stream_once(provider, &request, &meta, sink, &mut forwarded).instrument(span.clone()) => result,
                _ = shutdown.deadline() => Err(None),
                () = stopped.cancelled() => Err(None),
            };
            span.record(
                "outcome",
                match &result {
                    Ok(_) => "ok",
                    Err(error) => error
                        .as_ref()
                        .map_or(if stopped.is_cancelled() { "stopped" } else { "shutdown" }, LlmError::kind),
                },
            );
            let error = match result {
                Ok(reply) => {
                    let elapsed = started.elapsed();
                    self.deps.llm.succeeded(provider);
                    self.tally.latency += elapsed;
                    self.tally.usage.add_call(&reply.usage);
                    let model = reply.model.clone().filter(|m| !m.is_empty());
                    self.tally.model = Some(model.unwrap_or_else(|| self.deps.llm.model(provider).to_string()));
                    metrics.llm_call(provider.label(), "ok", elapsed);
                    if let Some(reason) = &reply.stop_reason {
                        metrics.stop_reason(reason);
                    }
                    return Ok(reply);
                }
                Err(error) => error,
            };
            if let Some(err) = error.as_ref().filter(|_| !forwarded.any) {
                match self.deps.llm.after_failure(provider, err, forwarded.opened, attempt <= MID_STREAM_RETRIES) {
                    Recovery::Retry => {
                        tracing::warn!(error = %err, anthropic_request_id = err.request_id(), attempt, "Claude stream failed before output; retrying");
                        tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                        continue;
                    }
                    Recovery::FallBack => {
                        tracing::warn!(error = %err, anthropic_request_id = err.request_id(), "Claude call failed before any output; the turn goes on with the OpenAI fallback");
                        metrics.llm_call(provider.label(), err.kind(), started.elapsed());
                        self.tally.latency += started.elapsed();
                        started = Instant::now();
                        provider = Provider::OpenAi;
                        self.tally.provider = provider;
                        attempt = 0;
                        continue;
                    }
                    Recovery::GiveUp => {}
                }
            }
            self.tally.latency += started.elapsed();
            let interrupted = if stopped.is_cancelled() { "stopped" } else { "shutdown" };
            metrics.llm_call(provider.label(), error.as_ref().map_or(interrupted, LlmError::kind), started.elapsed());
            return Err(CallFailure { error, partial_text: forwarded.text });
        }
    }

    /// Streams one attempt; `forwarded` records what reached the client.
    async fn stream_once(
        &mut self,
        provider: Provider,
        request: &MessagesRequest,
        meta: &RequestMeta,
        sink: &mut EventSink,
        forwarded: &mut Forwarded,
    ) -> Result<AssistantTurn, Option<LlmError>> {
        let mut stream = self.deps.llm.stream(provider, request, meta).await.map_err(Some)?;
        forwarded.opened = true;
        let mut acc = MessageAccumulator::new();
        while let Some(event) = stream.next().await {
            let event = event.map_err(Some)?;
            match &event {
                StreamEvent::TextDelta { text, .. } => {
                    sink.send(ChatEvent::ContentDelta(ContentDelta { text: text.clone() })).await;
                    forwarded.text.push_str(text);
                    forwarded.any = true;
                    self.tally.output_seen = true;
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
        self.tally.text.push_str(&std::mem::take(&mut forwarded.text));
        Ok(reply)
    }
}
