//! Closing the turns of an instance that died (`kill -9`, a lost machine). Every instance looks for
//! running turns whose lease ran out (`TURN_LEASE_SECONDS`) and claims each one alone; it then does
//! what the dead instance would have done at the end: the text and tool results already in the
//! turn's event log are persisted as an incomplete reply, the quota unit is given back if no text
//! had reached the client, and a terminal `error` (`service_unavailable`) is appended so that a
//! resuming client ends cleanly.

use std::time::Duration;

use serde_json::{Value, json};
use store::{NewMessage, Period, Role as StoreRole, Store};

use super::events::ErrorEvent;
use super::sse;
use crate::live::Live;
use crate::live::event_log::{LoggedEvent, TurnRecord};
use crate::shutdown::Shutdown;

/// Turns claimed per sweep at most (the rest wait for the next one).
const CLAIMS_PER_SWEEP: usize = 32;

/// Sweeps for expired leases every half lease until shutdown (only with Redis: without it, there is
/// no other instance, and this one's turns end with it).
pub fn start(live: Live, store: Store, model: String, shutdown: Shutdown) {
    if !live.shared() {
        return;
    }
    tokio::spawn(async move {
        let every = (live.lease / 2).max(Duration::from_millis(100));
        let mut ticks = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shutdown.draining() => return,
            }
            for turn in live.claim_expired(CLAIMS_PER_SWEEP).await {
                recover(&live, &store, &model, &turn).await;
            }
        }
    });
}

/// Closes one claimed turn.
async fn recover(live: &Live, store: &Store, model: &str, turn: &str) {
    let record = match live.log.record(turn).await {
        Ok(Some(record)) if !record.done => record,
        // Finished (the instance died after its last event) or forgotten: nothing to close.
        Ok(_) => return,
        Err(err) => {
            tracing::warn!(error = %err, turn, "a dead instance's turn could not be read; it is left to expire");
            return;
        }
    };
    let events = match live.log.events(turn).await {
        Ok(events) => events,
        Err(err) => {
            tracing::warn!(error = %err, turn, "a dead instance's turn could not be read; it is left to expire");
            return;
        }
    };
    let seen = Seen::of(&events);
    if let Err(err) = persist(store, model, &record, &seen).await {
        tracing::error!(error = %err, turn, "persisting a dead instance's partial reply failed");
    }
    if seen.text.is_empty() {
        refund(store, &record).await;
    }
    let last = events.iter().map(|e| e.seq).max().unwrap_or(0);
    let error = ErrorEvent::instance_lost();
    let seq = last + 1;
    let frame = sse::frame(&format!("{turn}:{seq}"), error.name(), &error);
    let terminal = LoggedEvent { seq, name: error.name().to_string(), frame };
    if let Err(err) = live.log.append(turn, &terminal).await {
        tracing::warn!(error = %err, turn, "the terminal event of a recovered turn was not logged");
    }
    crate::telemetry::live_metrics::recovered();
    tracing::info!(turn, session_id = %record.session_id, text_chars = seen.text.len(), "closed a dead instance's turn");
}

/// What the client had been sent: the text, and each tool call with its result (if it came).
#[derive(Default)]
struct Seen {
    text: String,
    tool_records: Vec<Value>,
}

impl Seen {
    fn of(events: &[LoggedEvent]) -> Seen {
        let mut seen = Seen::default();
        for event in events {
            let Some(data) = data_of(event) else { continue };
            match event.name.as_str() {
                "content_delta" => seen.text.push_str(data["text"].as_str().unwrap_or_default()),
                "function_call" => seen.tool_records.push(json!({"id": data["id"], "name": data["name"], "input": {}})),
                "function_result" => {
                    let record = seen.tool_records.iter_mut().find(|r| r["id"] == data["tool_use_id"]);
                    if let Some(record) = record {
                        record["result"] = data["result"].clone();
                    }
                }
                _ => {}
            }
        }
        // A call without a result was cut off with its instance; the history leaves it out.
        seen.tool_records.retain(|r| r.get("result").is_some());
        seen
    }
}

/// The JSON of a framed event's `data:` line.
fn data_of(event: &LoggedEvent) -> Option<Value> {
    let text = std::str::from_utf8(&event.frame).ok()?;
    let line = text.split("\r\n").find_map(|line| line.strip_prefix("data: "))?;
    serde_json::from_str(line).ok()
}

async fn persist(store: &Store, model: &str, record: &TurnRecord, seen: &Seen) -> Result<(), store::StoreError> {
    if seen.text.is_empty() && seen.tool_records.is_empty() {
        return Ok(());
    }
    let row = NewMessage {
        session_id: record.session_id,
        user_id: record.user_id.clone(),
        role: Some(StoreRole::Assistant),
        content: Some(seen.text.clone()),
        tool_calls: (!seen.tool_records.is_empty()).then(|| Value::Array(seen.tool_records.clone())),
        model: Some(model.to_string()),
        incomplete: true,
        stop_reason: Some("instance_lost".to_string()),
        ..Default::default()
    };
    store.insert_message(&row).await.map(|_| ())
}

async fn refund(store: &Store, record: &TurnRecord) {
    let Some(period) = parse_period(&record.period) else { return };
    if let Err(err) = store.refund_message(&record.user_id, period).await {
        tracing::error!(error = %err, "refunding a dead instance's turn failed");
    }
}

/// `YYYY-MM` back into a period.
fn parse_period(key: &str) -> Option<Period> {
    let (year, month) = key.split_once('-')?;
    Some(Period { year: year.parse().ok()?, month: month.parse().ok().filter(|m| (1..=12).contains(m))? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::events::ChatEvent;
    use bytes::Bytes;

    fn logged(seq: u64, event: ChatEvent) -> LoggedEvent {
        let frame: Bytes = sse::frame(&format!("t:{seq}"), event.name(), &event);
        LoggedEvent { seq, name: event.name().to_string(), frame }
    }

    #[test]
    fn what_the_client_saw_is_read_back_from_the_frames() {
        use crate::chat::events::{ContentDelta, FunctionCall, FunctionResult};
        let events = [
            logged(1, ChatEvent::ContentDelta(ContentDelta { text: "Grüße ".into() })),
            logged(2, ChatEvent::FunctionCall(FunctionCall { id: "tu_1".into(), name: "search".into() })),
            logged(
                3,
                ChatEvent::FunctionResult(FunctionResult {
                    tool_use_id: "tu_1".into(),
                    name: "search".into(),
                    result: "{\"ok\": true}".into(),
                }),
            ),
            logged(4, ChatEvent::FunctionCall(FunctionCall { id: "tu_2".into(), name: "cut".into() })),
            logged(5, ChatEvent::ContentDelta(ContentDelta { text: "💪".into() })),
        ];
        let seen = Seen::of(&events);
        assert_eq!(seen.text, "Grüße 💪");
        assert_eq!(seen.tool_records.len(), 1, "the call without a result is left out");
        assert_eq!(seen.tool_records[0]["result"], "{\"ok\": true}");
    }

    #[test]
    fn periods_read_back() {
        assert_eq!(parse_period("2026-12"), Some(Period { year: 2026, month: 12 }));
        assert_eq!(parse_period("2026-13"), None);
        assert_eq!(parse_period("garbage"), None);
    }
}
