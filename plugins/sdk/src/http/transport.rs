//! One request/response exchange over the `wasi:http` imports: build the outgoing request, hand it
//! to the host, stream the body out, wait for the response and read its body with a size cap.

use std::time::Duration;

use super::url::Url;
use super::{HttpError, Method, Response};
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    self, Fields, IncomingBody, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;

/// `blocking-write-and-flush` accepts at most this many bytes at a time.
const WRITE_CHUNK: usize = 4096;
const READ_CHUNK: u64 = 64 * 1024;

pub(super) fn send(
    method: Method,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    timeout: Duration,
    max_response_bytes: usize,
) -> Result<Response, HttpError> {
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|err| HttpError::Protocol(format!("header {name:?} refused: {err:?}")))?;
    }
    let request = OutgoingRequest::new(fields);
    request.set_method(&wasi_method(method)).map_err(|()| HttpError::Protocol("method refused".into()))?;
    let scheme = if url.scheme == "https" { Scheme::Https } else { Scheme::Http };
    request.set_scheme(Some(&scheme)).map_err(|()| HttpError::InvalidUrl(url.to_string()))?;
    request.set_authority(Some(&url.authority)).map_err(|()| HttpError::InvalidUrl(url.to_string()))?;
    request.set_path_with_query(Some(&url.path_with_query)).map_err(|()| HttpError::InvalidUrl(url.to_string()))?;
    let outgoing_body = request.body().map_err(|()| HttpError::Protocol("request body unavailable".into()))?;

    let options = RequestOptions::new();
    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    // The host may refuse to let a guest set some options; the defaults then apply (and the host
    // clamps them to the call's budget anyway).
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));

    let pending = outgoing_handler::handle(request, Some(options)).map_err(|code| HttpError::from_code(&code))?;

    if let Some(bytes) = body {
        let stream = outgoing_body.write().map_err(|()| HttpError::Protocol("request body unavailable".into()))?;
        for chunk in bytes.chunks(WRITE_CHUNK) {
            stream.blocking_write_and_flush(chunk).map_err(|err| stream_error(err, "writing the request body"))?;
        }
        drop(stream);
    }
    OutgoingBody::finish(outgoing_body, None).map_err(|code| HttpError::from_code(&code))?;

    let incoming = loop {
        match pending.get() {
            Some(result) => break result,
            None => pending.subscribe().block(),
        }
    };
    let response = incoming
        .map_err(|()| HttpError::Protocol("response already taken".into()))?
        .map_err(|code| HttpError::from_code(&code))?;

    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let incoming_body = response.consume().map_err(|()| HttpError::Protocol("response body unavailable".into()))?;
    let body = read_body(&incoming_body, max_response_bytes)?;
    drop(incoming_body);
    drop(response);
    Ok(Response { status, headers, body })
}

fn read_body(incoming: &IncomingBody, max_bytes: usize) -> Result<Vec<u8>, HttpError> {
    let stream = incoming.stream().map_err(|()| HttpError::Protocol("response body unavailable".into()))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => {
                if body.len() + chunk.len() > max_bytes {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(body),
            Err(err) => return Err(stream_error(err, "reading the response body")),
        }
    }
}

fn stream_error(err: StreamError, doing: &str) -> HttpError {
    match err {
        StreamError::Closed => HttpError::Connect(format!("connection closed while {doing}")),
        StreamError::LastOperationFailed(io) => match types::http_error_code(&io) {
            Some(code) => HttpError::from_code(&code),
            None => HttpError::Protocol(format!("{doing}: {}", io.to_debug_string())),
        },
    }
}

fn wasi_method(method: Method) -> types::Method {
    match method {
        Method::Get => types::Method::Get,
        Method::Post => types::Method::Post,
        Method::Put => types::Method::Put,
        Method::Patch => types::Method::Patch,
        Method::Delete => types::Method::Delete,
        Method::Head => types::Method::Head,
    }
}
