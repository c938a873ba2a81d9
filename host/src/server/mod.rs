//! The HTTP server: the accept loop that hands each connection to the router, with the limits no
//! client may get around: a cap on open connections ([`open_connections`]), a header timeout and an
//! idle timeout per connection ([`activity`]), and a bound on how long a client may leave its
//! output unread ([`watched_io`]). HTTP/1.1 and prior-knowledge HTTP/2 (h2c) are both served
//! ([`connection`]).
//!
//! It exists because axum's `serve` runs hyper without a timer and without a cap: an incomplete
//! request head, an idle keep-alive connection or a client that never reads could each hold a
//! connection for as long as they liked. Like [`crate::api`] it knows HTTP; it serves whatever
//! router [`crate::app`] hands it and knows nothing of the routes.

mod activity;
mod connection;
mod open_connections;
mod watched_io;

use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use activity::Timeouts;

use open_connections::OpenConnections;

use crate::config::ServerConfig;
use crate::shutdown::Shutdown;

/// The per-connection limits (the `HTTP_*` and `SLOW_CLIENT_TIMEOUT_SECONDS` settings).
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    pub timeouts: Timeouts,
    pub slow_client_timeout: Duration,
    pub max_connections: usize,
}

impl ServerLimits {
    pub fn of(config: &ServerConfig) -> ServerLimits {
        ServerLimits {
            timeouts: Timeouts { header: config.header_timeout, idle: config.idle_timeout },
            slow_client_timeout: config.slow_client_timeout,
            max_connections: config.max_connections,
        }
    }
}

/// Serves `router` on `listener` until the service drains: then it stops accepting (the listener
/// is closed), asks every connection to close once its requests are answered, and returns when
/// they all have. Connections beyond the cap are closed as soon as they are accepted.
pub async fn serve(listener: TcpListener, router: Router, limits: ServerLimits, shutdown: Shutdown) {
    let connections = OpenConnections::new(limits.max_connections);
    let mut served = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match connections.admit() {
                    Some(slot) => {
                        let task = connection::serve(stream, peer, router.clone(), limits, shutdown.clone(), slot);
                        served.spawn(task);
                    }
                    // Closed at once: the client sees the connection end before any answer.
                    None => drop(stream),
                },
                Err(err) => accept_failed(err).await,
            },
            Some(_) = served.join_next(), if !served.is_empty() => {}
            _ = shutdown.draining() => break,
        }
    }
    drop(listener);
    while served.join_next().await.is_some() {}
}

/// A failed `accept`. A connection reset before it was accepted is nothing; anything else (most
/// likely the open-file limit) is logged, and accepting pauses for a second so that connections
/// can end, as hyper's and axum's servers do.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Every SSE stream holds its client's socket (and, against an Anthropic without HTTP/2, one more):
/// lifts the soft limit on open files to the hard limit, which is what the process is allowed anyway. `main` calls it before the
/// runtime starts; tests that open thousands of connections call it too.
pub fn raise_open_file_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
