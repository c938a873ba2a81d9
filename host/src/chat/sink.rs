//! Where a turn sends its events, and the [`Outbox`] the HTTP response takes them from. The turn
//! never waits long on a client: when the response body was dropped (the client disconnected), or
//! when the client has left its events unread for the slow-client timeout, later events are
//! discarded and the turn runs on to its end, so the reply still lands in the session history.
//!
//! Once the turn has an id, every event is first appended to the turn's event log
//! ([`crate::live::event_log`]), so that a client that lost its connection resumes where it was, on
//! any instance. A log that fails (Redis down) is noted and skipped: the client still gets the
//! event, and the terminal event is tried again so that resuming clients still end.
//!
//! What waits for a slow client is bounded in bytes ([`BUFFERED_BYTES`]), not in events: one tool
//! result can be a megabyte, and a client that stops reading must not pin more than this.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::events::ChatEvent;
use super::sse;
use crate::live::event_log::{EventLog, LoggedEvent, TurnRecord, is_terminal};

/// Framed events waiting for the client, in bytes, at most (one larger event waits alone).
pub const BUFFERED_BYTES: usize = 256 * 1024;

/// A sink and the outbox it fills. `patience` is how long the sink waits for the client to make
/// room before it gives the client up.
pub fn channel(patience: Duration) -> (EventSink, Outbox) {
    let (queue, outbox) = mpsc::unbounded_channel();
    let room = Arc::new(Semaphore::new(BUFFERED_BYTES));
    let sink = EventSink { out: Some(Out { queue, room }), patience, turn: "0".to_string(), seq: 0, log: None };
    (sink, Outbox { queue: outbox })
}

/// Frames events and hands them to the HTTP response.
pub struct EventSink {
    /// `None` once the client is gone.
    out: Option<Out>,
    patience: Duration,
    /// Prefix of event ids: the turn (its user message), so ids are unique within a session.
    turn: String,
    seq: u64,
    /// The turn's event log, once the turn has an id.
    log: Option<TurnLog>,
}

struct TurnLog {
    log: Arc<dyn EventLog>,
    /// An append failed: later events skip the log, except the terminal one.
    failing: bool,
}

struct Out {
    queue: mpsc::UnboundedSender<Queued>,
    /// One permit per byte that may wait in the queue.
    room: Arc<Semaphore>,
}

/// A framed event and the room it takes until the response takes it.
struct Queued {
    bytes: Bytes,
    _room: OwnedSemaphorePermit,
}

impl EventSink {
    /// Scopes the following event ids to a turn once its user message exists.
    pub fn set_turn(&mut self, turn: impl Into<String>) {
        self.turn = turn.into();
    }

    /// Scopes the following event ids to `turn` and logs them from now on, under `record`.
    pub async fn log_to(&mut self, log: Arc<dyn EventLog>, turn: &str, record: &TurnRecord) {
        self.set_turn(turn);
        let failing = match log.open(turn, record).await {
            Ok(()) => false,
            Err(err) => {
                tracing::warn!(error = %err, "the turn's events are not logged: it cannot be resumed");
                crate::telemetry::live_metrics::log_failed();
                true
            }
        };
        self.log = Some(TurnLog { log, failing });
    }

    /// The id of the turn the events belong to (`0` before the turn has one).
    pub fn turn(&self) -> &str {
        &self.turn
    }

    /// Sends one event; a client that is gone, or too slow, is noted, not an error.
    pub async fn send(&mut self, event: ChatEvent) {
        self.seq += 1;
        if self.out.is_none() && self.log.is_none() {
            return;
        }
        let id = format!("{}:{}", self.turn, self.seq);
        let bytes = sse::frame(&id, event.name(), &event);
        self.append(event.name(), &bytes).await;
        let Some(out) = &self.out else { return };
        let cost = bytes.len().min(BUFFERED_BYTES) as u32;
        let room = match tokio::time::timeout(self.patience, out.room.clone().acquire_many_owned(cost)).await {
            Ok(Ok(room)) => room,
            // The semaphore is never closed; a closed one would mean the client is gone too.
            Ok(Err(_)) => return self.lose("client disconnected"),
            Err(_) => return self.lose("client stopped reading (SLOW_CLIENT_TIMEOUT_SECONDS)"),
        };
        if out.queue.send(Queued { bytes, _room: room }).is_err() {
            self.lose("client disconnected");
        }
    }

    /// Appends the framed event to the turn's log before anyone is sent it.
    async fn append(&mut self, name: &str, frame: &Bytes) {
        let Some(turn_log) = &mut self.log else { return };
        if turn_log.failing && !is_terminal(name) {
            return;
        }
        let event = LoggedEvent { seq: self.seq, name: name.to_string(), frame: frame.clone() };
        let started = Instant::now();
        match turn_log.log.append(&self.turn, &event).await {
            Ok(()) => crate::telemetry::live_metrics::appended(started.elapsed()),
            Err(err) => {
                if !turn_log.failing {
                    tracing::warn!(error = %err, turn = %self.turn, "appending to the event log failed; the turn goes on");
                }
                turn_log.failing = true;
                crate::telemetry::live_metrics::log_failed();
            }
        }
    }

    fn lose(&mut self, why: &'static str) {
        self.out = None;
        tracing::info!(turn = %self.turn, why, "the turn continues without its client");
    }
}

/// The events a turn sent, for the HTTP response to stream.
pub struct Outbox {
    queue: mpsc::UnboundedReceiver<Queued>,
}

impl Outbox {
    /// The next framed event (its room is freed as it leaves), or `None` when the turn is done.
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.queue.recv().await.map(|queued| queued.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::events::{ChatEvent, ContentDelta};

    fn delta(bytes: usize) -> ChatEvent {
        ChatEvent::ContentDelta(ContentDelta { text: "x".repeat(bytes) })
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_given_up_after_the_patience() {
        let (mut sink, mut outbox) = channel(Duration::from_secs(30));
        let started = tokio::time::Instant::now();
        // Four quarter-buffers fit; the fifth waits for room that never comes.
        for _ in 0..5 {
            sink.send(delta(BUFFERED_BYTES / 4 - 100)).await;
        }
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        sink.send(delta(10)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(30), "a lost client is not waited for again");
        // What was queued before is still there; nothing after.
        for _ in 0..4 {
            assert!(outbox.recv().await.is_some());
        }
        drop(sink);
        assert!(outbox.recv().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_reading_client_gets_every_event_whatever_its_size() {
        let (mut sink, mut outbox) = channel(Duration::from_secs(30));
        let reader = tokio::spawn(async move {
            let mut sizes = Vec::new();
            while let Some(bytes) = outbox.recv().await {
                sizes.push(bytes.len());
            }
            sizes
        });
        for size in [10, BUFFERED_BYTES * 4, 10] {
            sink.send(delta(size)).await;
        }
        drop(sink);
        let sizes = reader.await.unwrap();
        assert_eq!(sizes.len(), 3);
        assert!(sizes[1] > BUFFERED_BYTES * 4, "the large event went out whole");
    }

    #[tokio::test]
    async fn a_disconnected_client_is_noticed_at_once() {
        let (mut sink, outbox) = channel(Duration::from_secs(3600));
        drop(outbox);
        let sent = tokio::time::timeout(Duration::from_secs(10), sink.send(delta(BUFFERED_BYTES * 2)));
        sent.await.expect("no wait for a client that is gone");
        assert!(sink.out.is_none());
    }
}
