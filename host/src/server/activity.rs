//! What one connection is doing, for its two timeouts: reading a request head, serving requests,
//! or idle.
//!
//! hyper's own `header_read_timeout` also starts whenever a keep-alive connection waits for its
//! next request, so with it the idle timeout could never be longer than the header timeout. Here
//! the two are kept apart: the header timeout runs from the first byte of a request head (for a new
//! connection, from its opening) until the request reaches the router; the idle timeout runs while
//! no request is in flight and the client sends nothing. A request is in flight until its response
//! body is finished or dropped, so a long SSE stream, however quiet, is never cut by either.
//!
//! The socket ([`super::watched_io`]) reports bytes read, the service reports requests starting
//! ([`Activity::request_started`]) and ending (dropping the [`InFlight`] guard), and the connection
//! task waits on [`Activity::overstayed`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::Version;
use http_body::{Frame, SizeHint};
use tokio::sync::watch;
use tokio::time::Instant;

/// The shared record of a connection's activity.
#[derive(Debug)]
pub struct Activity {
    state: watch::Sender<State>,
}

#[derive(Clone, Copy, Debug)]
struct State {
    phase: Phase,
    /// HTTP/2: bytes arriving between requests may be control frames (pings, window updates), not
    /// the start of a request, so they only keep the connection from counting as idle.
    multiplexed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request head whose first byte (or the connection) came at `since`.
    ReadingHead { since: Instant },
    /// Requests in flight: their responses are not finished yet.
    Serving { in_flight: usize },
    /// Nothing in flight and nothing received since `since`.
    Idle { since: Instant },
}

/// Why a connection has to go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overstay {
    /// A request head took longer than the header timeout: the connection is closed at once.
    HeaderTimeout,
    /// Nothing in flight and nothing received for the idle timeout: the connection is closed
    /// gracefully (HTTP/2 clients get a GOAWAY).
    Idle,
}

/// The two timeouts.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

impl Activity {
    /// A connection just opened: its first request head is awaited from now.
    pub fn new() -> Arc<Activity> {
        let state = State { phase: Phase::ReadingHead { since: Instant::now() }, multiplexed: false };
        Arc::new(Activity { state: watch::Sender::new(state) })
    }

    /// Bytes arrived from the client.
    pub fn bytes_read(&self) {
        self.state.send_if_modified(|state| match state.phase {
            Phase::Idle { .. } if state.multiplexed => {
                // A later idle deadline: the waiting task finds it when it wakes.
                state.phase = Phase::Idle { since: Instant::now() };
                false
            }
            Phase::Idle { .. } => {
                state.phase = Phase::ReadingHead { since: Instant::now() };
                true
            }
            Phase::ReadingHead { .. } | Phase::Serving { .. } => false,
        });
    }

    /// A request head was read and goes to the router; the request is in flight until the guard
    /// (kept with its response body) is dropped.
    pub fn request_started(self: &Arc<Self>, version: Version) -> InFlight {
        self.state.send_if_modified(|state| {
            state.multiplexed |= version == Version::HTTP_2;
            match &mut state.phase {
                Phase::Serving { in_flight } => {
                    *in_flight += 1;
                    false
                }
                phase => {
                    *phase = Phase::Serving { in_flight: 1 };
                    true
                }
            }
        });
        InFlight { activity: self.clone() }
    }

    fn request_ended(&self) {
        self.state.send_if_modified(|state| match &mut state.phase {
            Phase::Serving { in_flight } if *in_flight > 1 => {
                *in_flight -= 1;
                false
            }
            phase => {
                *phase = Phase::Idle { since: Instant::now() };
                true
            }
        });
    }

    /// Resolves when the connection has overstayed one of `timeouts`. With `idle_counts` false
    /// (the connection is already closing) only the header timeout is watched.
    pub async fn overstayed(&self, timeouts: Timeouts, idle_counts: bool) -> Overstay {
        let mut changes = self.state.subscribe();
        loop {
            let phase = changes.borrow_and_update().phase;
            let deadline = match phase {
                Phase::ReadingHead { since } => Some((since + timeouts.header, Overstay::HeaderTimeout)),
                Phase::Idle { since } if idle_counts => Some((since + timeouts.idle, Overstay::Idle)),
                Phase::Idle { .. } | Phase::Serving { .. } => None,
            };
            match deadline {
                // The sender lives as long as `self`: `changed` cannot fail while we hold it.
                None => changes.changed().await.unwrap_or(()),
                Some((at, why)) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {
                            // Bytes may have moved an HTTP/2 idle deadline without a notification.
                            if changes.borrow().phase == phase {
                                return why;
                            }
                        }
                        _ = changes.changed() => {}
                    }
                }
            }
        }
    }
}

/// A request in flight; dropping it (the response body ended or was dropped) ends the request.
#[derive(Debug)]
pub struct InFlight {
    activity: Arc<Activity>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity.request_ended();
    }
}

/// A response body that keeps its request in flight until it is finished or dropped.
pub struct InFlightBody {
    body: Body,
    _in_flight: InFlight,
}

impl InFlightBody {
    pub fn new(body: Body, in_flight: InFlight) -> InFlightBody {
        InFlightBody { body, _in_flight: in_flight }
    }
}

impl http_body::Body for InFlightBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts { header: Duration::from_secs(10), idle: Duration::from_secs(75) };

    async fn overstay_after(activity: &Activity, idle_counts: bool) -> (Overstay, Duration) {
        let started = Instant::now();
        let why = activity.overstayed(TIMEOUTS, idle_counts).await;
        (why, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_must_send_its_head_within_the_header_timeout() {
        let activity = Activity::new();
        tokio::time::advance(Duration::from_secs(4)).await;
        activity.bytes_read();
        // The first bytes do not restart the clock: the head as a whole has the header timeout.
        assert_eq!(overstay_after(&activity, true).await, (Overstay::HeaderTimeout, Duration::from_secs(6)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_is_never_timed_out() {
        let activity = Activity::new();
        let request = activity.request_started(Version::HTTP_11);
        let waiting = tokio::spawn({
            let activity = activity.clone();
            async move { overstay_after(&activity, true).await }
        });
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!waiting.is_finished(), "an hour-long response is not idle");
        drop(request);
        assert_eq!(waiting.await.unwrap(), (Overstay::Idle, Duration::from_secs(3600 + 75)));
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_the_idle_timeout_applies_until_a_new_head_begins() {
        let activity = Activity::new();
        drop(activity.request_started(Version::HTTP_11));
        tokio::time::advance(Duration::from_secs(70)).await;
        // The next head began: from now on it is the header timeout that counts.
        activity.bytes_read();
        assert_eq!(overstay_after(&activity, true).await, (Overstay::HeaderTimeout, Duration::from_secs(10)));
    }

    #[tokio::test(start_paused = true)]
    async fn http2_control_frames_between_requests_only_keep_the_connection_alive() {
        let activity = Activity::new();
        drop(activity.request_started(Version::HTTP_2));
        tokio::time::advance(Duration::from_secs(70)).await;
        activity.bytes_read();
        assert_eq!(overstay_after(&activity, true).await, (Overstay::Idle, Duration::from_secs(75)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_closing_connection_still_bounds_a_head_but_not_idleness() {
        let activity = Activity::new();
        let (why, _) = overstay_after(&activity, false).await;
        assert_eq!(why, Overstay::HeaderTimeout);
        drop(activity.request_started(Version::HTTP_11));
        let idle_ignored = tokio::time::timeout(Duration::from_secs(3600), activity.overstayed(TIMEOUTS, false));
        assert!(idle_ignored.await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_keep_the_connection_busy_until_the_last_ends() {
        let activity = Activity::new();
        let first = activity.request_started(Version::HTTP_2);
        let second = activity.request_started(Version::HTTP_2);
        drop(first);
        let busy = tokio::time::timeout(Duration::from_secs(3600), activity.overstayed(TIMEOUTS, true));
        assert!(busy.await.is_err(), "one request is still in flight");
        drop(second);
        assert_eq!(overstay_after(&activity, true).await, (Overstay::Idle, Duration::from_secs(75)));
    }
}
