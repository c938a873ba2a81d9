//! One request as a stand-in received it, the one type every stand-in records and every suite
//! asserts on: method, path, query, headers and body, with the readings tests need (a header, the
//! decoded query, the body as text, JSON or multipart parts).

use bytes::Bytes;
use serde_json::Value;

pub use super::multipart::Part;

/// One request, as received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The HTTP version it came over (HTTP/2 when negotiated by ALPN or h2c).
    pub version: http::Version,
    /// Which of the server's connections it came over (numbered from 0 in order of acceptance).
    pub connection: usize,
}

impl RecordedRequest {
    pub(crate) fn from_parts(parts: &http::request::Parts, body: Bytes, connection: usize) -> RecordedRequest {
        RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body,
            version: parts.version,
            connection,
        }
    }

    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in arrival order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The query as decoded pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        query_pairs(self.query.as_deref().unwrap_or(""))
    }

    /// The first decoded value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The parts of a `multipart/form-data` body (`None` when it is not one, or not well formed).
    pub fn multipart(&self) -> Option<Vec<Part>> {
        let content_type = self.header("content-type")?;
        let boundary = content_type.split(';').map(str::trim).find_map(|p| p.strip_prefix("boundary="))?;
        super::multipart::parse(&self.body, boundary.trim_matches('"'))
    }
}

/// Decoded `application/x-www-form-urlencoded` pairs.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_pairs() {
        assert_eq!(
            query_pairs("q=leg%20day+plus&limit=5&x=%E2%9C%93&bad=%zz"),
            vec![
                ("q".to_string(), "leg day plus".to_string()),
                ("limit".to_string(), "5".to_string()),
                ("x".to_string(), "✓".to_string()),
                ("bad".to_string(), "%zz".to_string()),
            ]
        );
    }
}
