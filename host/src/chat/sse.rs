//! The SSE wire format the existing clients parse, byte for byte: CRLF line endings, an `id:` line
//! on every event, `event:` then `data:` with Python-`json.dumps`-style JSON (`", "` and `": "`
//! separators, non-ASCII escaped as `\uXXXX`), and the `: ping - <time>` keep-alive comment.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// How often the keep-alive comment is sent (sse-starlette's default).
pub const PING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15);

/// One framed event: `id: <id>\r\nevent: <name>\r\ndata: <json>\r\n\r\n`.
pub fn frame(id: &str, event: &str, data: &impl Serialize) -> Bytes {
    let json = python_json(data);
    let mut out = String::with_capacity(json.len() + event.len() + id.len() + 24);
    out.push_str("id: ");
    out.push_str(id);
    out.push_str("\r\nevent: ");
    out.push_str(event);
    out.push_str("\r\ndata: ");
    out.push_str(&json);
    out.push_str("\r\n\r\n");
    Bytes::from(out)
}

/// The keep-alive comment, as sse-starlette writes it.
pub fn ping(at: DateTime<Utc>) -> Bytes {
    Bytes::from(format!(": ping - {}\r\n\r\n", at.format("%Y-%m-%d %H:%M:%S%.6f%:z")))
}

/// JSON as Python's `json.dumps(value)` writes it with default arguments (the formatter the
/// plugins' results use too, so the two never drift apart).
pub fn python_json(value: &impl Serialize) -> String {
    // Serialising our own event types cannot fail; a failure would be a bug worth seeing.
    pyfmt::to_json(value).expect("event payloads serialise to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_matches_python_dumps() {
        #[derive(Serialize)]
        struct Payload {
            session_id: &'static str,
            tokens_used: u32,
            list: Vec<u8>,
            nested: serde_json::Value,
        }
        let v = Payload { session_id: "abc", tokens_used: 12, list: vec![1, 2], nested: json!({"a": null}) };
        assert_eq!(
            python_json(&v),
            r#"{"session_id": "abc", "tokens_used": 12, "list": [1, 2], "nested": {"a": null}}"#
        );
    }

    #[test]
    fn non_ascii_is_escaped_like_ensure_ascii() {
        // Python: json.dumps({"text": "Grüße 💪"}) == '{"text": "Gr\\u00fc\\u00dfe \\ud83d\\udcaa"}'
        assert_eq!(python_json(&json!({"text": "Grüße 💪"})), r#"{"text": "Gr\u00fc\u00dfe \ud83d\udcaa"}"#);
        assert_eq!(python_json(&json!({"q": "a\"b\n"})), r#"{"q": "a\"b\n"}"#);
    }

    #[test]
    fn frames_use_crlf_and_carry_an_id() {
        let bytes = frame("7", "content_delta", &json!({"text": "hi"}));
        assert_eq!(&bytes[..], b"id: 7\r\nevent: content_delta\r\ndata: {\"text\": \"hi\"}\r\n\r\n");
    }

    #[test]
    fn ping_is_a_comment() {
        let at = DateTime::parse_from_rfc3339("2026-01-29T16:07:25.123456Z").unwrap().with_timezone(&Utc);
        assert_eq!(&ping(at)[..], b": ping - 2026-01-29 16:07:25.123456+00:00\r\n\r\n");
    }
}
