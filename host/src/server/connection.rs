//! One client connection, from accept to close: HTTP/1.1 or prior-knowledge HTTP/2 (h2c), each
//! request handed to the router with the peer's address (`ConnectInfo`), and the connection closed
//! when it overstays a timeout ([`super::activity`]), when its client stops reading
//! ([`super::watched_io`]), or gracefully when the service drains.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::ServerLimits;
use super::activity::{Activity, InFlightBody, Overstay};
use super::open_connections::ConnectionSlot;
use super::watched_io::WatchedIo;
use crate::shutdown::Shutdown;

/// Serves `stream` until it closes; `_slot` keeps it counted against the connection cap meanwhile.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ServerLimits,
    shutdown: Shutdown,
    _slot: ConnectionSlot,
) {
    let activity = Activity::new();
    let io = TokioIo::new(WatchedIo::new(stream, activity.clone(), limits.slow_client_timeout));
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            let in_flight = activity.request_started(request.version());
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = router.clone().oneshot(request);
            async move {
                let response = response.await?;
                Ok::<_, Infallible>(response.map(|body| InFlightBody::new(body, in_flight)))
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The header timeout is the activity's: hyper's would also cut keep-alive connections waiting
    // for their next request after the header timeout, whatever the idle timeout says.
    builder.http1().header_read_timeout(None);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%err, %peer, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.draining(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            overstay = activity.overstayed(limits.timeouts, !closing) => {
                match overstay {
                    Overstay::HeaderTimeout => {
                        metrics::counter!("http_connections_closed_total", "reason" => "header_timeout").increment(1);
                        tracing::debug!(%peer, "request head not received within HTTP_HEADER_TIMEOUT_SECONDS; closing");
                        return;
                    }
                    Overstay::Idle => {
                        metrics::counter!("http_connections_closed_total", "reason" => "idle").increment(1);
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}
