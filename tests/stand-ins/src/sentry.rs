//! A stand-in for Sentry's ingestion endpoint: a real HTTP server on loopback accepting what the
//! SDK's transport sends, `POST /api/<project>/envelope/`, decoding each envelope (plain or gzip)
//! into its header and items, and keeping them for assertions. Point a DSN at it with
//! [`SentryStandIn::dsn`].
//!
//! Envelope format (<https://develop.sentry.dev/sdk/data-model/envelopes/>): a JSON header line,
//! then items, each a JSON item header line followed by its payload: `length` bytes when the
//! header gives a length, else up to the next newline.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::recording_server::{RecordedRequest, RecordingServer, reply, runs_on_recording_server};

/// The public key of the stand-in's DSN.
pub const PUBLIC_KEY: &str = "0123456789abcdef0123456789abcdef";
/// The project id of the stand-in's DSN.
pub const PROJECT: &str = "42";

/// One decoded envelope.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The envelope header (`event_id`, `dsn`, `sent_at`, …).
    pub header: Value,
    pub items: Vec<Item>,
    /// The decoded body as received (after decompression), for searching.
    pub raw: String,
    /// The `X-Sentry-Auth` header the SDK sent.
    pub auth: Option<String>,
}

/// One envelope item.
#[derive(Debug, Clone)]
pub struct Item {
    pub header: Value,
    pub payload: Bytes,
}

impl Item {
    /// The item type: `event`, `transaction`, `session`, `attachment`, …
    pub fn kind(&self) -> &str {
        self.header["type"].as_str().unwrap_or("")
    }

    /// The payload as JSON (`Null` when it is not JSON, as for attachments).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or(Value::Null)
    }
}

/// A running stand-in; dropping it stops it. It derefs to the [`RecordingServer`] it runs on.
pub struct SentryStandIn {
    server: RecordingServer,
}

runs_on_recording_server!(SentryStandIn);

impl SentryStandIn {
    pub async fn start() -> SentryStandIn {
        let server = RecordingServer::start(|request: RecordedRequest| async move {
            match decode_request(&request) {
                Ok(envelope) => {
                    let id = envelope.header["event_id"].as_str().unwrap_or_default().to_string();
                    reply::json(200, json!({"id": id}))
                }
                Err(why) => reply::json(400, json!({"detail": why})),
            }
        })
        .await;
        tracing::info!(url = %server.url(), "[stand-in Sentry] listening (this is NOT the real Sentry)");
        SentryStandIn { server }
    }

    /// `http://<key>@127.0.0.1:<port>/<project>`, the value of `SENTRY_DSN`.
    pub fn dsn(&self) -> String {
        format!("http://{PUBLIC_KEY}@{}/{PROJECT}", self.server.addr())
    }

    /// Every envelope received so far that decoded, oldest first.
    pub fn envelopes(&self) -> Vec<Envelope> {
        self.server.requests().iter().filter_map(|r| decode_request(r).ok()).collect()
    }

    /// The payloads of every `event` item received so far.
    pub fn events(&self) -> Vec<Value> {
        events_in(&self.server.requests())
    }

    /// Waits until an `event` item matching `predicate` arrived (checked as each envelope arrives);
    /// panics after `within`.
    pub async fn wait_for_event(&self, within: Duration, predicate: impl Fn(&Value) -> bool) -> Value {
        self.server
            .wait_until(within, "a matching Sentry event", |requests| {
                events_in(requests).into_iter().find(|e| predicate(e))
            })
            .await
    }
}

/// The payloads of every `event` item of the envelopes among `requests`.
fn events_in(requests: &[RecordedRequest]) -> Vec<Value> {
    let envelopes = requests.iter().filter_map(|r| decode_request(r).ok());
    envelopes.flat_map(|e| e.items).filter(|i| i.kind() == "event").map(|i| i.json()).collect()
}

/// Decodes a request as an envelope post, checking what Sentry's ingestion checks first.
fn decode_request(request: &RecordedRequest) -> Result<Envelope, String> {
    if request.method != "POST" || request.path != format!("/api/{PROJECT}/envelope/") {
        return Err(format!("expected POST /api/{PROJECT}/envelope/, got {} {}", request.method, request.path));
    }
    let auth = request.header("x-sentry-auth").map(str::to_string);
    let key_in_query = request.query_param("sentry_key").as_deref() == Some(PUBLIC_KEY);
    if !key_in_query && !auth.as_deref().is_some_and(|a| a.contains(&format!("sentry_key={PUBLIC_KEY}"))) {
        return Err("missing sentry_key".into());
    }
    let body = match request.header("content-encoding").map(str::to_ascii_lowercase).as_deref() {
        None | Some("identity") => request.body.to_vec(),
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&request.body[..]).read_to_end(&mut out).map_err(|e| format!("gzip: {e}"))?;
            out
        }
        Some(other) => return Err(format!("unsupported content-encoding {other}")),
    };
    let mut envelope = parse(&body)?;
    envelope.auth = auth;
    Ok(envelope)
}

/// Parses the envelope wire format.
pub fn parse(body: &[u8]) -> Result<Envelope, String> {
    let mut rest = body;
    let header_line = take_line(&mut rest);
    let header: Value = serde_json::from_slice(header_line).map_err(|e| format!("envelope header: {e}"))?;
    let mut items = Vec::new();
    while !rest.is_empty() {
        let line = take_line(&mut rest);
        if line.is_empty() {
            continue;
        }
        let item_header: Value = serde_json::from_slice(line).map_err(|e| format!("item header: {e}"))?;
        let payload = match item_header.get("length").and_then(Value::as_u64) {
            Some(length) => {
                let length = length as usize;
                if rest.len() < length {
                    return Err(format!("item of {length} bytes, {} left", rest.len()));
                }
                let (payload, tail) = rest.split_at(length);
                rest = tail.strip_prefix(b"\n").unwrap_or(tail);
                payload
            }
            None => take_line(&mut rest),
        };
        items.push(Item { header: item_header, payload: Bytes::copy_from_slice(payload) });
    }
    Ok(Envelope { header, items, raw: String::from_utf8_lossy(body).into_owned(), auth: None })
}

/// The bytes up to the next newline (or the end), advancing past it.
fn take_line<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    match rest.iter().position(|&b| b == b'\n') {
        Some(end) => {
            let line = &rest[..end];
            *rest = &rest[end + 1..];
            line
        }
        None => std::mem::take(rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_with_and_without_lengths_parse() {
        let body = b"{\"event_id\":\"e1\"}\n{\"type\":\"event\",\"length\":10}\n{\"a\":\"\\n\"}\n{\"type\":\"session\"}\n{\"s\":1}";
        let envelope = parse(body).unwrap();
        assert_eq!(envelope.header["event_id"], "e1");
        assert_eq!(envelope.items.len(), 2);
        assert_eq!(envelope.items[0].kind(), "event");
        assert_eq!(envelope.items[0].json()["a"], "\n");
        assert_eq!(envelope.items[1].json()["s"], 1);
    }
}
