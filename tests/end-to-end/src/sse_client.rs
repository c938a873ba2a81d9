//! An SSE client that reads `/chat/stream` the way the web and iOS clients do: it normalises CRLF,
//! splits blocks on a blank line, takes `id:`, `event:` and the `data:` lines, and skips comments
//! (the pings) — while keeping the raw bytes so tests can check the exact framing too. A
//! [`LiveStream`] reads in the background, so that a test can act at the moment the client has
//! seen something (the first delta) instead of after a guessed delay.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::sync::watch;

/// One received event.
#[derive(Clone, Debug, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// Everything a stream delivered.
#[derive(Clone, Debug, Default)]
pub struct SseTranscript {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub raw: Vec<u8>,
    pub events: Vec<SseEvent>,
    /// Keep-alive comments seen.
    pub pings: usize,
}

impl SseTranscript {
    /// The event names in order.
    pub fn names(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.event.as_str()).collect()
    }

    /// The event names with each run of `content_delta` (or `heartbeat`) folded into one: the
    /// shape of a turn, independent of how the model's text was split into deltas.
    pub fn shape(&self) -> Vec<&str> {
        let mut names = self.names();
        names.dedup_by(|a, b| a == b && (*a == "content_delta" || *a == "heartbeat"));
        names
    }

    /// All `content_delta` text joined.
    pub fn text(&self) -> String {
        self.events
            .iter()
            .filter(|e| e.event == "content_delta")
            .filter_map(|e| e.data.get("text").and_then(Value::as_str))
            .collect()
    }

    pub fn first(&self, name: &str) -> Option<&SseEvent> {
        self.events.iter().find(|e| e.event == name)
    }

    pub fn all(&self, name: &str) -> Vec<&SseEvent> {
        self.events.iter().filter(|e| e.event == name).collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Parses complete blocks off the front of `buf`, leaving a trailing partial block in place.
pub fn parse_blocks(buf: &mut String, out: &mut SseTranscript) {
    while let Some(end) = buf.find("\n\n") {
        let block: String = buf.drain(..end + 2).collect();
        let mut id = None;
        let mut event = None;
        let mut data: Vec<&str> = Vec::new();
        let mut comment = false;
        for line in block.lines() {
            if let Some(rest) = line.strip_prefix(':') {
                comment = comment || rest.trim_start().starts_with("ping");
            } else if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim_start().to_string());
            } else if let Some(v) = line.strip_prefix("event:") {
                event = Some(v.trim_start().to_string());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if comment && event.is_none() {
            out.pings += 1;
        }
        if let (Some(event), false) = (event, data.is_empty()) {
            let data = serde_json::from_str(&data.join("\n")).unwrap_or(Value::Null);
            out.events.push(SseEvent { id, event, data });
        }
    }
}

/// Sends a request and reads the stream to its end (or until `timeout`).
pub async fn read_stream(request: reqwest::RequestBuilder, timeout: Duration) -> anyhow::Result<SseTranscript> {
    read_stream_until(request, timeout, |_| false).await
}

/// Like [`read_stream`], but stops (dropping the connection) as soon as `stop` says so — a client
/// that goes away mid-turn.
pub async fn read_stream_until(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    mut stop: impl FnMut(&SseTranscript) -> bool,
) -> anyhow::Result<SseTranscript> {
    let response = request.send().await?;
    let mut out = SseTranscript {
        status: response.status().as_u16(),
        headers: response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        ..Default::default()
    };
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pending_bytes: Vec<u8> = Vec::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, body.next()).await {
            Err(_) => anyhow::bail!("stream did not end within {timeout:?}; got {:?}", out.names()),
            Ok(None) => break,
            Ok(Some(chunk)) => chunk?,
        };
        out.raw.extend_from_slice(&chunk);
        pending_bytes.extend_from_slice(&chunk);
        // Only decode whole UTF-8 sequences; a chunk may end inside a character.
        let valid = match std::str::from_utf8(&pending_bytes) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        text.push_str(&String::from_utf8_lossy(&pending_bytes[..valid]));
        pending_bytes.drain(..valid);
        // A CRLF may straddle two chunks: normalise the (small) unparsed remainder as a whole.
        if text.contains('\r') {
            text = text.replace("\r\n", "\n");
        }
        parse_blocks(&mut text, &mut out);
        if stop(&out) {
            break;
        }
    }
    Ok(out)
}

/// A stream read in the background: the test waits until the client has received what it needs
/// (an event, some text), acts at that moment, then reads the rest.
pub struct LiveStream {
    received: watch::Receiver<SseTranscript>,
    reader: tokio::task::JoinHandle<anyhow::Result<SseTranscript>>,
}

impl LiveStream {
    /// Sends `request` and reads its stream in the background, to its end (or until `timeout`).
    pub fn open(request: reqwest::RequestBuilder, timeout: Duration) -> LiveStream {
        let (progress, received) = watch::channel(SseTranscript::default());
        let reader = tokio::spawn(read_stream_until(request, timeout, move |so_far| {
            progress.send_replace(so_far.clone());
            false
        }));
        LiveStream { received, reader }
    }

    /// Waits until `done` holds for what the client received so far, and returns that. Panics,
    /// naming `what`, when the stream ends (or times out) first.
    pub async fn wait_until(&mut self, what: &str, done: impl Fn(&SseTranscript) -> bool) -> SseTranscript {
        if let Ok(so_far) = self.received.wait_for(|so_far| done(so_far)).await {
            return so_far.clone();
        }
        panic!("the stream ended before {what}; it received {:?}", self.received.borrow().names());
    }

    /// Reads the stream to its end and returns everything it delivered.
    pub async fn finish(self) -> anyhow::Result<SseTranscript> {
        self.reader.await?
    }
}
