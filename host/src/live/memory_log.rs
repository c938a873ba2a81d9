//! The event log of a single instance without Redis: each turn's events in process, kept for the
//! retention window after the turn ends. A resuming client waits on a `watch` channel that moves
//! with every append.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use super::event_log::{EventLog, LogUnavailable, LoggedEvent, Tail, TurnRecord};

/// Every turn of this instance still within its retention.
pub struct MemoryLog {
    retention: Duration,
    turns: Mutex<HashMap<String, Arc<MemoryTurn>>>,
}

struct MemoryTurn {
    state: Mutex<TurnState>,
    /// The number of events appended so far.
    appended: watch::Sender<usize>,
}

struct TurnState {
    record: TurnRecord,
    events: Vec<LoggedEvent>,
    /// Forgotten after this instant.
    expires: Instant,
}

impl MemoryLog {
    pub fn new(retention: Duration) -> MemoryLog {
        MemoryLog { retention, turns: Mutex::default() }
    }

    fn turn(&self, turn: &str) -> Option<Arc<MemoryTurn>> {
        let mut turns = self.turns.lock();
        let now = Instant::now();
        let found = turns.get(turn)?.clone();
        if found.state.lock().expires <= now {
            turns.remove(turn);
            return None;
        }
        Some(found)
    }

    /// Forgets turns past their retention (on every new turn, so the map never outgrows the
    /// turns of the last retention window).
    fn purge(&self) {
        let now = Instant::now();
        self.turns.lock().retain(|_, turn| turn.state.lock().expires > now);
    }
}

impl EventLog for MemoryLog {
    fn open<'a>(&'a self, turn: &'a str, record: &'a TurnRecord) -> BoxFuture<'a, Result<(), LogUnavailable>> {
        self.purge();
        let state = TurnState { record: record.clone(), events: Vec::new(), expires: Instant::now() + self.retention };
        let entry = Arc::new(MemoryTurn { state: Mutex::new(state), appended: watch::channel(0).0 });
        self.turns.lock().insert(turn.to_string(), entry);
        futures::future::ready(Ok(())).boxed()
    }

    fn append<'a>(&'a self, turn: &'a str, event: &'a LoggedEvent) -> BoxFuture<'a, Result<(), LogUnavailable>> {
        if let Some(entry) = self.turn(turn) {
            let count = {
                let mut state = entry.state.lock();
                state.events.push(event.clone());
                state.record.done |= event.is_terminal();
                state.expires = Instant::now() + self.retention;
                state.events.len()
            };
            entry.appended.send_replace(count);
        }
        futures::future::ready(Ok(())).boxed()
    }

    fn record<'a>(&'a self, turn: &'a str) -> BoxFuture<'a, Result<Option<TurnRecord>, LogUnavailable>> {
        let record = self.turn(turn).map(|entry| entry.state.lock().record.clone());
        futures::future::ready(Ok(record)).boxed()
    }

    fn events<'a>(&'a self, turn: &'a str) -> BoxFuture<'a, Result<Vec<LoggedEvent>, LogUnavailable>> {
        let events = self.turn(turn).map(|entry| entry.state.lock().events.clone()).unwrap_or_default();
        futures::future::ready(Ok(events)).boxed()
    }

    fn tail(&self, turn: &str, after: u64, _idle: Duration) -> Tail {
        let Some(entry) = self.turn(turn) else { return futures::stream::empty().boxed() };
        let appended = entry.appended.subscribe();
        futures::stream::unfold((entry, appended, after, false), |(entry, mut appended, last, ended)| async move {
            if ended {
                return None;
            }
            loop {
                let (next, done) = {
                    let state = entry.state.lock();
                    (state.events.iter().find(|e| e.seq > last).cloned(), state.record.done)
                };
                // Resumed after the terminal event: nothing more will come.
                if next.is_none() && done {
                    return None;
                }
                if let Some(event) = next {
                    let ended = event.is_terminal();
                    let seq = event.seq;
                    return Some((Ok::<_, LogUnavailable>(event), (entry, appended, seq, ended)));
                }
                // The sender lives in `entry`, so this only waits for the next append.
                if appended.changed().await.is_err() {
                    return None;
                }
            }
        })
        .boxed()
    }

    fn keep<'a>(&'a self, turn: &'a str) -> BoxFuture<'a, Result<(), LogUnavailable>> {
        if let Some(entry) = self.turn(turn) {
            entry.state.lock().expires = Instant::now() + self.retention;
        }
        futures::future::ready(Ok(())).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures::StreamExt;
    use uuid::Uuid;

    fn event(seq: u64, name: &str) -> LoggedEvent {
        LoggedEvent { seq, name: name.to_string(), frame: Bytes::from(format!("frame {seq}")) }
    }

    fn record() -> TurnRecord {
        TurnRecord { user_id: "alice".into(), session_id: Uuid::nil(), period: "2026-12".into(), done: false }
    }

    #[tokio::test]
    async fn a_tail_replays_what_came_after_then_follows_until_the_end() {
        let log = Arc::new(MemoryLog::new(Duration::from_secs(600)));
        log.open("t", &record()).await.unwrap();
        for seq in 1..=3 {
            log.append("t", &event(seq, "content_delta")).await.unwrap();
        }
        let mut tail = log.tail("t", 1, Duration::from_secs(1));
        assert_eq!(tail.next().await.unwrap().unwrap().seq, 2);
        assert_eq!(tail.next().await.unwrap().unwrap().seq, 3);
        let writer = log.clone();
        tokio::spawn(async move { writer.append("t", &event(4, "message_end")).await });
        assert_eq!(tail.next().await.unwrap().unwrap().seq, 4);
        assert!(tail.next().await.is_none(), "nothing after the terminal event");
        assert!(log.record("t").await.unwrap().unwrap().done);
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_is_forgotten_after_its_retention() {
        let log = MemoryLog::new(Duration::from_secs(600));
        log.open("t", &record()).await.unwrap();
        log.append("t", &event(1, "message_end")).await.unwrap();
        tokio::time::advance(Duration::from_secs(599)).await;
        assert!(log.record("t").await.unwrap().is_some());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(log.record("t").await.unwrap().is_none());
        assert!(log.tail("t", 0, Duration::from_secs(1)).next().await.is_none());
    }
}
