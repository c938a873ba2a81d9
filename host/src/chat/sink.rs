//! Where a turn sends its events, and the [`Outbox`] the HTTP response takes them from. The turn
//! never waits long on a client: when the response body was dropped (the client disconnected), or
//! when the client has left its events unread for the slow-client timeout, later events are
//! discarded and the turn runs on to its end, so the reply still lands in the session history.
//!
//! What waits for a slow client is bounded in bytes ([`BUFFERED_BYTES`]), not in events: one tool
//! result can be a megabyte, and a client that stops reading must not pin more than this.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::events::ChatEvent;
use super::sse;

/// Framed events waiting for the client, in bytes, at most (one larger event waits alone).
pub const BUFFERED_BYTES: usize = 256 * 1024;

/// A sink and the outbox it fills. `patience` is how long the sink waits for the client to make
/// room before it gives the client up.
pub fn channel(patience: Duration) -> (EventSink, Outbox) {
    let (queue, outbox) = mpsc::unbounded_channel();
    let room = Arc::new(Semaphore::new(BUFFERED_BYTES));
    let sink = EventSink { out: Some(Out { queue, room }), patience, turn: "0".to_string(), seq: 0 };
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

    /// Sends one event; a client that is gone, or too slow, is noted, not an error.
    pub async fn send(&mut self, event: ChatEvent) {
        self.seq += 1;
        let Some(out) = &self.out else { return };
        let id = format!("{}:{}", self.turn, self.seq);
        let bytes = sse::frame(&id, event.name(), &event);
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
