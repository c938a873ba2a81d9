//! Where a turn sends its events. The turn never waits on a client that is gone: when the
//! response body was dropped (the client disconnected) events are discarded and the turn runs on
//! to its end, so the reply still lands in the session history.

use bytes::Bytes;
use tokio::sync::mpsc;

use super::events::ChatEvent;
use super::sse;

/// Frames events and hands them to the HTTP response.
pub struct EventSink {
    tx: mpsc::Sender<Bytes>,
    /// Prefix of event ids: the turn (its user message), so ids are unique within a session.
    turn: String,
    seq: u64,
    connected: bool,
}

impl EventSink {
    pub fn new(tx: mpsc::Sender<Bytes>) -> Self {
        EventSink { tx, turn: "0".to_string(), seq: 0, connected: true }
    }

    /// Scopes the following event ids to a turn once its user message exists.
    pub fn set_turn(&mut self, turn: impl Into<String>) {
        self.turn = turn.into();
    }

    /// Sends one event; a disconnected client is noted, not an error.
    pub async fn send(&mut self, event: ChatEvent) {
        self.seq += 1;
        if !self.connected {
            return;
        }
        let id = format!("{}:{}", self.turn, self.seq);
        let bytes = sse::frame(&id, event.name(), &event);
        if self.tx.send(bytes).await.is_err() {
            self.connected = false;
            tracing::info!(turn = %self.turn, "client disconnected; the turn continues without it");
        }
    }
}
