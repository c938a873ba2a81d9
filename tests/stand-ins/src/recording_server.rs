//! A real HTTP/1.1 server on `127.0.0.1:0` for tests: it records every request (method, path,
//! headers, body) and answers with whatever the test's handler returns, which may be slow, may
//! never come, or may stream a huge body. Stopping the server (dropping it) closes its connections.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// A response body the handlers build with [`reply`].
pub type Body = BoxBody<Bytes, Infallible>;

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RecordedRequest {
    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct Recorded {
    requests: Mutex<Vec<RecordedRequest>>,
    arrived: Notify,
}

/// A running server; dropping it stops it.
pub struct RecordingServer {
    addr: SocketAddr,
    recorded: Arc<Recorded>,
    accept: JoinHandle<()>,
}

impl RecordingServer {
    /// Serves `handler` for every request.
    pub async fn start<F, Fut>(handler: F) -> RecordingServer
    where
        F: Fn(RecordedRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding a test server");
        let addr = listener.local_addr().expect("a bound address");
        let recorded = Arc::new(Recorded::default());
        let handler = Arc::new(handler);
        let accept = {
            let recorded = recorded.clone();
            tokio::spawn(async move {
                // Connections live in this set: aborting the accept task drops (and closes) them all.
                let mut connections = tokio::task::JoinSet::new();
                loop {
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    let (recorded, handler) = (recorded.clone(), handler.clone());
                    connections.spawn(async move {
                        let service = service_fn(move |request: Request<Incoming>| {
                            let (recorded, handler) = (recorded.clone(), handler.clone());
                            async move {
                                let request = record(request).await;
                                recorded.requests.lock().push(request.clone());
                                recorded.arrived.notify_waiters();
                                Ok::<_, Infallible>(handler(request).await)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                    while connections.try_join_next().is_some() {}
                }
            })
        };
        RecordingServer { addr, recorded, accept }
    }

    /// Answers every request with `200` and the JSON `body`.
    pub async fn json(body: serde_json::Value) -> RecordingServer {
        RecordingServer::start(move |_| {
            let body = body.clone();
            async move { reply::json(200, body) }
        })
        .await
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.recorded.requests.lock().clone()
    }

    /// Waits until at least `count` requests arrived (panics after `within`).
    pub async fn wait_for_requests(&self, count: usize, within: Duration) -> Vec<RecordedRequest> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let arrived = self.recorded.arrived.notified();
            let requests = self.requests();
            if requests.len() >= count {
                return requests;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("{} of {count} requests arrived within {within:?}", self.requests().len());
            }
        }
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn record(request: Request<Incoming>) -> RecordedRequest {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into()),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body,
    }
}

/// Responses for handlers.
pub mod reply {
    use super::*;

    pub fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(body.into()).boxed())
            .expect("a valid response")
    }

    pub fn json(status: u16, value: serde_json::Value) -> Response<Body> {
        bytes(status, "application/json", value.to_string())
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Response<Body> {
        Response::builder()
            .status(302)
            .header("location", location)
            .body(Full::new(Bytes::new()).boxed())
            .expect("a valid response")
    }

    /// `total` bytes of `x`, produced lazily in chunks (so a huge body costs the server nothing), with
    /// or without a `Content-Length`.
    pub fn stream(total: u64, with_length: bool) -> Response<Body> {
        const CHUNK: u64 = 64 * 1024;
        let chunk = Bytes::from(vec![b'x'; CHUNK as usize]);
        let frames = futures::stream::iter((0..total.div_ceil(CHUNK)).map(move |i| {
            let size = CHUNK.min(total - i * CHUNK) as usize;
            Ok::<_, Infallible>(Frame::data(chunk.slice(..size)))
        }));
        let mut response = Response::builder().status(200).header("content-type", "application/octet-stream");
        if with_length {
            response = response.header("content-length", total.to_string());
        }
        response.body(BodyExt::boxed(StreamBody::new(frames))).expect("a valid response")
    }
}
