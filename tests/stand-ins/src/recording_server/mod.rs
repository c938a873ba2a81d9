//! The one HTTP server every stand-in runs on: a real HTTP/1.1 (and HTTP/2) server on loopback that
//! records every request ([`RecordedRequest`]: method, path, query, headers, body) before handing it
//! to the stand-in's handler, and answers with whatever the handler returns, which may be slow, may
//! never come, or may stream a huge body. Tests read the recording, or wait on it: a wait resolves
//! the moment the request it needs arrives, never by polling.
//!
//! A server started with [`Transport::Tls`] serves HTTPS with a certificate of a test CA
//! generated at run time ([`tls`]), negotiating HTTP/2 or HTTP/1.1 by ALPN like the real
//! upstreams; it counts the connections it accepted, so tests can see how many a client opened.
//!
//! Stopping the server ([`RecordingServer::stop`], or dropping it) closes its port and breaks every
//! open connection, keep-alive ones included.

mod multipart;
pub mod reply;
mod request;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::response::Response;
use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use request::{Part, RecordedRequest, query_pairs};
pub use tls::{Alpn, TestCa};

/// Makes a stand-in (a struct with a `server: RecordingServer` field) deref to its server, so
/// that `url()`, `requests()`, `last_request()` and the waits read the same on every stand-in.
macro_rules! runs_on_recording_server {
    ($stand_in:ty) => {
        impl std::ops::Deref for $stand_in {
            type Target = $crate::recording_server::RecordingServer;

            fn deref(&self) -> &$crate::recording_server::RecordingServer {
                &self.server
            }
        }
    };
}
pub(crate) use runs_on_recording_server;

#[derive(Default)]
struct Recorded {
    requests: Mutex<Vec<RecordedRequest>>,
    arrived: Notify,
    /// TCP connections accepted so far.
    connections: AtomicUsize,
}

/// How a server speaks on its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP: HTTP/1.1, or HTTP/2 with prior knowledge (h2c).
    Plain,
    /// HTTPS with a run-time test certificate, the protocol chosen by ALPN.
    Tls(Alpn),
}

/// A running server; dropping it stops it.
pub struct RecordingServer {
    addr: SocketAddr,
    recorded: Arc<Recorded>,
    /// The CA that signed the server's certificate (TLS servers only).
    ca: Option<TestCa>,
    /// `None` once stopped.
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RecordingServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl RecordingServer {
    /// Serves `handler` for every request, on a free loopback port.
    pub async fn start<F, Fut>(handler: F) -> RecordingServer
    where
        F: Fn(RecordedRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        RecordingServer::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), handler).await
    }

    /// Serves `handler` for every request, on `addr`.
    pub async fn start_on<F, Fut>(addr: SocketAddr, handler: F) -> RecordingServer
    where
        F: Fn(RecordedRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        RecordingServer::start_with(addr, Transport::Plain, handler).await
    }

    /// Serves `handler` for every request, on `addr`, over `transport`.
    pub async fn start_with<F, Fut>(addr: SocketAddr, transport: Transport, handler: F) -> RecordingServer
    where
        F: Fn(RecordedRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let listener = TcpListener::bind(addr).await.unwrap_or_else(|e| panic!("binding a stand-in on {addr}: {e}"));
        let addr = listener.local_addr().expect("a bound address");
        let recorded = Arc::new(Recorded::default());
        let (tls, ca) = match transport {
            Transport::Plain => (None, None),
            Transport::Tls(alpn) => {
                let (acceptor, ca) = tls::acceptor(alpn);
                (Some(acceptor), Some(ca))
            }
        };
        let accept = tokio::spawn(accept_loop(listener, tls, recorded.clone(), Arc::new(handler)));
        RecordingServer { addr, recorded, ca, accept: Some(accept) }
    }

    /// Answers every request with `200` and the JSON `body`.
    pub async fn json(body: serde_json::Value) -> RecordingServer {
        RecordingServer::start(move |_| {
            let body = body.clone();
            async move { reply::json(200, body) }
        })
        .await
    }

    /// Answers every request with `200` and the JSON `body`, held until the returned gate opens.
    pub async fn gated(body: serde_json::Value) -> (RecordingServer, crate::gate::Gate) {
        let gate = crate::gate::Gate::new();
        let held = gate.clone();
        let server = RecordingServer::start(move |_| {
            let (gate, body) = (held.clone(), body.clone());
            async move {
                gate.passed().await;
                reply::json(200, body)
            }
        })
        .await;
        (server, gate)
    }

    /// `http://127.0.0.1:<port>` (`https://` when served over TLS), without a trailing slash.
    pub fn url(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The test CA a TLS server's certificate chains to (`None` for plain HTTP).
    pub fn ca(&self) -> Option<&TestCa> {
        self.ca.as_ref()
    }

    /// How many TCP connections the server accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.recorded.connections.load(Ordering::Relaxed)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.recorded.requests.lock().clone()
    }

    pub fn request_count(&self) -> usize {
        self.recorded.requests.lock().len()
    }

    /// The newest request. Panics when none arrived.
    pub fn last_request(&self) -> RecordedRequest {
        self.recorded.requests.lock().last().cloned().unwrap_or_else(|| panic!("no request reached {}", self.url()))
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        self.recorded.requests.lock().clear();
    }

    /// Waits until at least `count` requests arrived, and returns them (panics after `within`).
    pub async fn wait_for_requests(&self, count: usize, within: Duration) -> Vec<RecordedRequest> {
        self.wait_until(within, &format!("{count} requests"), |requests| {
            (requests.len() >= count).then(|| requests.to_vec())
        })
        .await
    }

    /// Waits until `found` finds what it looks for in the requests so far; it is asked again each
    /// time a request arrives. Panics after `within`, saying `what` was awaited.
    pub async fn wait_until<T>(
        &self,
        within: Duration,
        what: &str,
        found: impl Fn(&[RecordedRequest]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Registered before looking, so that an arrival in between is not missed.
            let arrived = self.recorded.arrived.notified();
            if let Some(value) = found(&self.recorded.requests.lock()) {
                return value;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("{what} did not reach {} within {within:?}; it got {:#?}", self.url(), self.requests());
            }
        }
    }

    /// Stops the server: from now on its port refuses connections, and open ones are broken.
    pub async fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
    }
}

/// Serves connections until the task is aborted; the connections live in a `JoinSet` owned by this
/// task, so aborting it breaks them all.
async fn accept_loop<F, Fut>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    recorded: Arc<Recorded>,
    handler: Arc<F>,
) where
    F: Fn(RecordedRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let connection = recorded.connections.fetch_add(1, Ordering::Relaxed);
                    let (recorded, handler, tls) = (recorded.clone(), handler.clone(), tls.clone());
                    connections.spawn(async move {
                        match tls {
                            None => serve_connection(stream, connection, recorded, handler).await,
                            Some(tls) => match tls.accept(stream).await {
                                Ok(stream) => serve_connection(stream, connection, recorded, handler).await,
                                Err(err) => tracing::debug!(%err, "[stand-in] TLS handshake failed"),
                            },
                        }
                    });
                }
                Err(err) => {
                    // Out of file descriptors, most likely: give the open connections a moment.
                    tracing::warn!(%err, "[stand-in] accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection<S, F, Fut>(stream: S, connection: usize, recorded: Arc<Recorded>, handler: Arc<F>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Fn(RecordedRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let service = service_fn(move |request: Request<Incoming>| {
        let (recorded, handler) = (recorded.clone(), handler.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let request = RecordedRequest::from_parts(&parts, body, connection);
            recorded.requests.lock().push(request.clone());
            recorded.arrived.notify_waiters();
            Ok::<_, Infallible>(handler(request).await)
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(err) = builder.serve_connection(TokioIo::new(stream), service).await {
        tracing::debug!(%err, "[stand-in] connection ended with an error");
    }
}
