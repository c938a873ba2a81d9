//! The event log on Redis Streams, shared by every instance. A turn is two keys: its record (a
//! hash: user, session, quota month, done) and its events (a stream whose entry ids are `0-<seq>`,
//! so "the events after `<seq>`" is one `XRANGE`/`XREAD` from `0-<seq>`). Both expire a retention
//! window after the last append or lease renewal. A resuming client blocks on its own connection.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use redis::Value;
use redis::aio::MultiplexedConnection;
use uuid::Uuid;

use super::event_log::{EventLog, LogUnavailable, LoggedEvent, Tail, TurnRecord};
use super::redis_link::RedisLink;

/// Entries one `XREAD` returns at most.
const READ_BATCH: usize = 256;

pub struct RedisLog {
    link: RedisLink,
    retention_ms: i64,
}

impl RedisLog {
    pub fn new(link: RedisLink, retention: Duration) -> RedisLog {
        RedisLog { link, retention_ms: retention.as_millis().min(i64::MAX as u128) as i64 }
    }

    fn record_key(&self, turn: &str) -> String {
        self.link.key(&format!("turn:{turn}"))
    }

    fn events_key(&self, turn: &str) -> String {
        self.link.key(&format!("turn:{turn}:events"))
    }
}

impl EventLog for RedisLog {
    fn open<'a>(&'a self, turn: &'a str, record: &'a TurnRecord) -> BoxFuture<'a, Result<(), LogUnavailable>> {
        async move {
            let key = self.record_key(turn);
            let fields = [
                ("user", record.user_id.clone()),
                ("session", record.session_id.to_string()),
                ("period", record.period.clone()),
                ("done", "0".to_string()),
            ];
            let result = redis::pipe()
                .atomic()
                .hset_multiple(&key, &fields)
                .ignore()
                .pexpire(&key, self.retention_ms)
                .ignore()
                .exec_async(&mut self.link.conn())
                .await;
            self.link.noted(result)
        }
        .boxed()
    }

    fn append<'a>(&'a self, turn: &'a str, event: &'a LoggedEvent) -> BoxFuture<'a, Result<(), LogUnavailable>> {
        async move {
            let (record, events) = (self.record_key(turn), self.events_key(turn));
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("XADD")
                .arg(&events)
                .arg(format!("0-{}", event.seq))
                .arg("n")
                .arg(&event.name)
                .arg("f")
                .arg(event.frame.as_ref())
                .ignore()
                .pexpire(&events, self.retention_ms)
                .ignore()
                .pexpire(&record, self.retention_ms)
                .ignore();
            if event.is_terminal() {
                pipe.hset(&record, "done", "1").ignore();
            }
            let result = pipe.exec_async(&mut self.link.conn()).await;
            self.link.noted(result)
        }
        .boxed()
    }

    fn record<'a>(&'a self, turn: &'a str) -> BoxFuture<'a, Result<Option<TurnRecord>, LogUnavailable>> {
        async move {
            let result: redis::RedisResult<std::collections::HashMap<String, String>> =
                redis::cmd("HGETALL").arg(self.record_key(turn)).query_async(&mut self.link.conn()).await;
            let fields = self.link.noted(result)?;
            Ok(parse_record(&fields))
        }
        .boxed()
    }

    fn events<'a>(&'a self, turn: &'a str) -> BoxFuture<'a, Result<Vec<LoggedEvent>, LogUnavailable>> {
        async move {
            let result: redis::RedisResult<Value> = redis::cmd("XRANGE")
                .arg(self.events_key(turn))
                .arg("-")
                .arg("+")
                .query_async(&mut self.link.conn())
                .await;
            Ok(parse_entries(&self.link.noted(result)?))
        }
        .boxed()
    }

    fn tail(&self, turn: &str, after: u64, idle: Duration) -> Tail {
        let reader = TailReader {
            link: self.link.clone(),
            record: self.record_key(turn),
            events: self.events_key(turn),
            idle,
            conn: None,
            last: after,
            buffered: VecDeque::new(),
            ended: false,
        };
        futures::stream::unfold(reader, |mut reader| async move {
            let next = reader.next().await?;
            Some((next, reader))
        })
        .boxed()
    }

    fn keep<'a>(&'a self, turn: &'a str) -> BoxFuture<'a, Result<(), LogUnavailable>> {
        async move {
            let result = redis::pipe()
                .pexpire(self.record_key(turn), self.retention_ms)
                .ignore()
                .pexpire(self.events_key(turn), self.retention_ms)
                .ignore()
                .exec_async(&mut self.link.conn())
                .await;
            self.link.noted(result)
        }
        .boxed()
    }
}

/// A resuming client's reader: `XREAD BLOCK` on a connection of its own.
struct TailReader {
    link: RedisLink,
    record: String,
    events: String,
    idle: Duration,
    conn: Option<MultiplexedConnection>,
    last: u64,
    buffered: VecDeque<LoggedEvent>,
    ended: bool,
}

impl TailReader {
    async fn next(&mut self) -> Option<Result<LoggedEvent, LogUnavailable>> {
        loop {
            if self.ended {
                return None;
            }
            if let Some(event) = self.buffered.pop_front() {
                self.last = event.seq;
                self.ended = event.is_terminal();
                return Some(Ok(event));
            }
            // Without waiting first: a client resuming a finished turn is answered at once.
            match self.read(false).await {
                Ok(Some(events)) => {
                    self.buffered.extend(events);
                    continue;
                }
                Ok(None) => {}
                Err(err) => return self.fail(err),
            }
            // Nothing after `last`: the turn ended (its terminal event is appended in the same
            // transaction that marks it done, so a read after seeing `done` finds it), expired (its
            // instance died and nobody closed it: the client reads the session's messages), or
            // runs on and the tail waits.
            let done: Result<Option<String>, _> = self
                .link
                .noted(redis::cmd("HGET").arg(&self.record).arg("done").query_async(&mut self.link.conn()).await);
            let done = match done {
                Ok(done) => done,
                Err(err) => return self.fail(err),
            };
            let wait = match done.as_deref() {
                Some("1") => false,
                Some(_) => true,
                None => return None,
            };
            match self.read(wait).await {
                Ok(Some(events)) => self.buffered.extend(events),
                Ok(None) if !wait => return None,
                Ok(None) => {}
                Err(err) => return self.fail(err),
            }
        }
    }

    fn fail(&mut self, err: LogUnavailable) -> Option<Result<LoggedEvent, LogUnavailable>> {
        self.ended = true;
        Some(Err(err))
    }

    /// The entries after `last` (waiting up to `idle` for one when `wait`); `None` when none came.
    async fn read(&mut self, wait: bool) -> Result<Option<Vec<LoggedEvent>>, LogUnavailable> {
        if self.conn.is_none() {
            let conn = self.link.dedicated(self.idle + Duration::from_secs(5)).await;
            self.conn = Some(self.link.noted(conn)?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        let mut xread = redis::cmd("XREAD");
        xread.arg("COUNT").arg(READ_BATCH);
        if wait {
            xread.arg("BLOCK").arg(self.idle.as_millis().max(1) as u64);
        }
        let result: redis::RedisResult<Value> =
            xread.arg("STREAMS").arg(&self.events).arg(format!("0-{}", self.last)).query_async(conn).await;
        let reply = match self.link.noted(result) {
            Ok(reply) => reply,
            Err(err) => {
                self.conn = None;
                return Err(err);
            }
        };
        // RESP2: [[key, entries]]; RESP3: {key: entries}; nil when the block timed out.
        let entries = match reply {
            Value::Nil => return Ok(None),
            Value::Array(streams) => streams.into_iter().find_map(|s| match s {
                Value::Array(mut pair) if pair.len() == 2 => Some(pair.remove(1)),
                _ => None,
            }),
            Value::Map(streams) => streams.into_iter().next().map(|(_, entries)| entries),
            _ => None,
        };
        let events = entries.map(|e| parse_entries(&e)).unwrap_or_default();
        Ok((!events.is_empty()).then_some(events))
    }
}

fn parse_record(fields: &std::collections::HashMap<String, String>) -> Option<TurnRecord> {
    Some(TurnRecord {
        user_id: fields.get("user")?.clone(),
        session_id: Uuid::parse_str(fields.get("session")?).ok()?,
        period: fields.get("period")?.clone(),
        done: fields.get("done").is_some_and(|d| d == "1"),
    })
}

/// `[[id, [field, value, …]], …]` into events (entries this service did not write are skipped).
fn parse_entries(value: &Value) -> Vec<LoggedEvent> {
    let Value::Array(entries) = value else { return Vec::new() };
    entries.iter().filter_map(parse_entry).collect()
}

fn parse_entry(entry: &Value) -> Option<LoggedEvent> {
    let Value::Array(parts) = entry else { return None };
    let [id, Value::Array(fields)] = parts.as_slice() else { return None };
    let seq = bytes_of(id)?.strip_prefix(b"0-")?.iter().try_fold(0u64, |n, d| {
        d.is_ascii_digit().then(|| n.checked_mul(10)?.checked_add(u64::from(d - b'0'))).flatten()
    })?;
    let (mut name, mut frame) = (None, None);
    for pair in fields.chunks(2) {
        match (pair.first().and_then(bytes_of), pair.get(1).and_then(bytes_of)) {
            (Some(b"n"), Some(value)) => name = String::from_utf8(value.to_vec()).ok(),
            (Some(b"f"), Some(value)) => frame = Some(Bytes::copy_from_slice(value)),
            _ => {}
        }
    }
    Some(LoggedEvent { seq, name: name?, frame: frame? })
}

fn bytes_of(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}
