//! The durable log of one turn's events: every SSE event is appended (already framed, exactly the
//! bytes the client is sent) before it goes out, so a client that lost its connection resumes on
//! any instance with `Last-Event-ID` and gets the same bytes again, none missing, none twice.
//!
//! Two backends implement [`EventLog`]: in memory for a single instance ([`super::memory_log`])
//! and Redis Streams shared by every instance ([`super::redis_log`]).

use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One logged event: its sequence number within the turn (the part after `:` of its SSE id), its
/// event name and its framed bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedEvent {
    pub seq: u64,
    pub name: String,
    pub frame: Bytes,
}

impl LoggedEvent {
    /// `message_end` and `error` are the last event of a turn.
    pub fn is_terminal(&self) -> bool {
        is_terminal(&self.name)
    }
}

/// Whether an event of this name ends a turn.
pub fn is_terminal(name: &str) -> bool {
    name == "message_end" || name == "error"
}

/// Whose turn it is, recorded when the turn opens its log: resume and stop check the user, crash
/// recovery needs the session and the quota month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnRecord {
    pub user_id: String,
    pub session_id: Uuid,
    /// The quota month (`YYYY-MM`) the turn's unit was taken from.
    pub period: String,
    /// The terminal event has been appended.
    #[serde(default)]
    pub done: bool,
}

/// Why the log could not be used (Redis unreachable); the turn itself goes on.
#[derive(Debug, thiserror::Error)]
#[error("event log unavailable: {0}")]
pub struct LogUnavailable(pub String);

/// The events of a resuming client: those after its last one, then the live ones, ending after the
/// terminal event (or with an error when the log became unreachable).
pub type Tail = BoxStream<'static, Result<LoggedEvent, LogUnavailable>>;

/// Where turns' events are kept for the retention window after the turn ends.
pub trait EventLog: Send + Sync {
    /// Records whose turn `turn` is, before its first event.
    fn open<'a>(&'a self, turn: &'a str, record: &'a TurnRecord) -> BoxFuture<'a, Result<(), LogUnavailable>>;

    /// Appends one event (in sequence order); a terminal event marks the turn done.
    fn append<'a>(&'a self, turn: &'a str, event: &'a LoggedEvent) -> BoxFuture<'a, Result<(), LogUnavailable>>;

    /// The turn's record, `None` when the turn is unknown or past its retention.
    fn record<'a>(&'a self, turn: &'a str) -> BoxFuture<'a, Result<Option<TurnRecord>, LogUnavailable>>;

    /// Every event logged so far.
    fn events<'a>(&'a self, turn: &'a str) -> BoxFuture<'a, Result<Vec<LoggedEvent>, LogUnavailable>>;

    /// The events after `after`, then the live ones until the terminal event. `idle` is how long the
    /// tail waits for a new event before it checks the turn is still there.
    fn tail(&self, turn: &str, after: u64, idle: Duration) -> Tail;

    /// Keeps a running turn's log from expiring (called with each lease renewal).
    fn keep<'a>(&'a self, turn: &'a str) -> BoxFuture<'a, Result<(), LogUnavailable>>;
}
