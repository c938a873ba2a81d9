//! Responses the handlers of a [`super::RecordingServer`] build: JSON, raw bytes, a redirect, or a
//! huge body produced lazily. Handlers may also return any axum response (`into_response()`).

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;

pub fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::from(body.into()))
        .expect("a valid response")
}

pub fn json(status: u16, value: serde_json::Value) -> Response {
    bytes(status, "application/json", value.to_string())
}

/// `302 Found` to `location`.
pub fn redirect(location: &str) -> Response {
    Response::builder().status(302).header("location", location).body(Body::empty()).expect("a valid response")
}

/// `total` bytes of `x`, produced lazily in chunks (so a huge body costs the server nothing), with
/// or without a `Content-Length`.
pub fn stream(total: u64, with_length: bool) -> Response {
    const CHUNK: u64 = 64 * 1024;
    let chunk = Bytes::from(vec![b'x'; CHUNK as usize]);
    let chunks = futures::stream::iter((0..total.div_ceil(CHUNK)).map(move |i| {
        let size = CHUNK.min(total - i * CHUNK) as usize;
        Ok::<_, Infallible>(chunk.slice(..size))
    }));
    let mut response = Response::builder().status(200).header("content-type", "application/octet-stream");
    if with_length {
        response = response.header("content-length", total.to_string());
    }
    response.body(Body::from_stream(chunks)).expect("a valid response")
}
