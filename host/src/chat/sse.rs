//! The SSE wire format the existing clients parse, byte for byte: CRLF line endings, an `id:` line
//! on every event, `event:` then `data:` with Python-`json.dumps`-style JSON (`", "` and `": "`
//! separators, non-ASCII escaped as `\uXXXX`), and the `: ping - <time>` keep-alive comment.

use std::io;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::ser::Formatter;

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

/// JSON as Python's `json.dumps(value)` writes it with default arguments.
pub fn python_json(value: &impl Serialize) -> String {
    let mut buf = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, PythonFormatter);
    // Serialising our own event types cannot fail; a failure would be a bug worth seeing.
    value.serialize(&mut ser).expect("event payloads serialise to JSON");
    String::from_utf8(buf).expect("the formatter writes ASCII only")
}

/// `", "` between items, `": "` after keys, and `ensure_ascii=True` string escaping.
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, ch) in fragment.char_indices() {
            if ch.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = i + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
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
