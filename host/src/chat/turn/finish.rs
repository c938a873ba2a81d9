//! The end of a turn: the quota unit given back if nothing of the reply reached the user, the
//! assistant row persisted (complete, or marked incomplete with what the user saw), the token
//! metrics, and the last event: `message_end`, or the `error` the ending calls for.

use serde_json::Value;
use store::{NewMessage, Role as StoreRole};

use super::{Ending, Turn, give_back};
use crate::chat::events::{ChatEvent, ErrorEvent, MessageEnd};
use crate::chat::sink::EventSink;
use crate::llm::StopReason;
use crate::telemetry::turn_metrics::TurnMetrics;

impl Turn {
    /// Persists the reply and sends the last event. `Err` carries the failure reason.
    pub(super) async fn finish(
        self,
        ending: Ending,
        sink: &mut EventSink,
        metrics: &TurnMetrics,
    ) -> Result<(), &'static str> {
        let stopped = matches!(ending, Ending::Stopped);
        let (incomplete, last_event, failure) = match ending {
            Ending::Complete => (false, None, None),
            // The partial reply is kept; the turn still ends with `message_end`.
            Ending::Stopped => (true, None, None),
            Ending::Failed { event, reason } => (true, Some(event), Some(reason)),
            Ending::Shutdown => (true, Some(ErrorEvent::shutting_down()), Some("shutdown")),
        };
        // The turn's slot and lease (`_live`) are given back once its last event is sent.
        let Turn { deps, live: _live, who, reservation, conversation, mut tally } = self;
        if stopped {
            tally.stop_reason = Some(StopReason::Other("stopped".to_string()));
        }
        if incomplete && !tally.output_seen {
            // Nothing of the reply reached the user: the message does not count.
            give_back(reservation, &deps.store).await;
        }
        if !incomplete || tally.output_seen {
            let row = NewMessage {
                session_id: who.session_id,
                user_id: who.user.user_id.clone(),
                role: Some(StoreRole::Assistant),
                content: Some(tally.text.clone()),
                tool_calls: (!tally.tool_records.is_empty()).then(|| Value::Array(tally.tool_records.clone())),
                model: Some(tally.model.clone().unwrap_or_else(|| deps.config.anthropic.model.clone())),
                latency_ms: Some(clamp_i32(tally.latency.as_millis() as u64)),
                input_tokens: Some(clamp_i32(tally.usage.input_tokens)),
                output_tokens: Some(clamp_i32(tally.usage.output_tokens)),
                cache_read_input_tokens: Some(clamp_i32(tally.usage.cache_read_input_tokens)),
                cache_creation_input_tokens: Some(clamp_i32(tally.usage.cache_creation_input_tokens)),
                incomplete,
                stop_reason: tally.stop_reason.as_ref().map(|reason| reason.as_str().to_string()),
                transcript: serde_json::to_value(&conversation.transcript).ok(),
                ..Default::default()
            };
            if let Err(err) = deps.store.insert_message(&row).await {
                tracing::error!(error = %err, "persisting the assistant reply failed");
                if last_event.is_none() {
                    sink.send(ErrorEvent::unexpected()).await;
                    return Err("persist_failed");
                }
            }
        }
        metrics.tokens(&tally.usage);
        let last_event = last_event.unwrap_or_else(|| {
            ChatEvent::MessageEnd(MessageEnd {
                session_id: who.session_id,
                tokens_used: tally.usage.input_tokens + tally.usage.output_tokens,
                latency_ms: tally.latency.as_millis() as u64,
                pending_imports: conversation.pending.for_message_end(),
                stopped: stopped.then_some(true),
            })
        });
        sink.send(last_event).await;
        failure.map_or(Ok(()), Err)
    }
}

fn clamp_i32(v: u64) -> i32 {
    v.min(i32::MAX as u64) as i32
}
