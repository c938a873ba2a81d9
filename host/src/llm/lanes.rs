//! Connection lanes to Anthropic: how thousands of Claude streams share a few connections.
//!
//! Anthropic negotiates HTTP/2 by ALPN, so one connection carries many streams, but a server lets
//! each connection have only so many at once (its `SETTINGS_MAX_CONCURRENT_STREAMS`), and hyper
//! queues a stream beyond that until another ends — a turn would wait for someone else's. A lane
//! is one HTTP client with its own pool, so one HTTP/2 connection; a request takes the first lane
//! with fewer than `ANTHROPIC_STREAMS_PER_CONNECTION` streams in flight and opens a new lane when
//! every lane is full. Filling the first lanes first lets the spare ones idle out after a peak.
//! Against a server without HTTP/2 the lanes change nothing: each keeps its own HTTP/1.1 pool.
//!
//! The first request of a new lane goes alone until the server answered it (at most
//! [`FIRST_ANSWER_WAIT`]): requests started together on an empty pool would otherwise each open a
//! TLS connection before ALPN says one is enough (hyper then drops all but one).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};
use parking_lot::Mutex;

/// The longest the requests behind a new lane's first one wait for its answer before they go.
pub const FIRST_ANSWER_WAIT: Duration = Duration::from_secs(1);

type NewClient = dyn Fn() -> anyhow::Result<reqwest::Client> + Send + Sync;

/// The lanes of one upstream; cheap to clone.
#[derive(Clone)]
pub struct ConnectionLanes {
    inner: Arc<Lanes>,
}

struct Lanes {
    streams_per_connection: usize,
    /// `None`: a fixed single lane (a client handed in by the caller).
    new_client: Option<Box<NewClient>>,
    lanes: Mutex<Vec<Arc<Lane>>>,
}

struct Lane {
    client: reqwest::Client,
    in_flight: AtomicUsize,
    /// Set once a request on this lane got an answer: its connection exists.
    answered: AtomicBool,
    first: tokio::sync::Mutex<()>,
}

impl Lane {
    fn new(client: reqwest::Client) -> Arc<Lane> {
        Arc::new(Lane {
            client,
            in_flight: AtomicUsize::new(0),
            answered: AtomicBool::new(false),
            first: tokio::sync::Mutex::new(()),
        })
    }
}

impl std::fmt::Debug for ConnectionLanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionLanes")
            .field("streams_per_connection", &self.inner.streams_per_connection)
            .field("lanes", &self.lane_count())
            .finish()
    }
}

impl ConnectionLanes {
    /// Lanes of `streams_per_connection` streams each: the first over `first`, every further one
    /// over a client from `new_client`.
    pub fn new(
        streams_per_connection: usize,
        first: reqwest::Client,
        new_client: impl Fn() -> anyhow::Result<reqwest::Client> + Send + Sync + 'static,
    ) -> ConnectionLanes {
        ConnectionLanes {
            inner: Arc::new(Lanes {
                streams_per_connection: streams_per_connection.max(1),
                new_client: Some(Box::new(new_client)),
                lanes: Mutex::new(vec![Lane::new(first)]),
            }),
        }
    }

    /// One lane over `client`, however many streams it carries (its pool decides).
    pub fn single(client: reqwest::Client) -> ConnectionLanes {
        ConnectionLanes {
            inner: Arc::new(Lanes {
                streams_per_connection: usize::MAX,
                new_client: None,
                lanes: Mutex::new(vec![Lane::new(client)]),
            }),
        }
    }

    /// How many lanes were opened so far.
    pub fn lane_count(&self) -> usize {
        self.inner.lanes.lock().len()
    }

    /// A place for one more stream: the first lane with room, else a new one. The stream counts
    /// against its lane until the returned [`LaneTicket`] is dropped.
    pub fn acquire(&self) -> LaneTicket {
        let inner = &self.inner;
        let mut lanes = inner.lanes.lock();
        let with_room = lanes.iter().find(|lane| lane.in_flight.load(Ordering::Relaxed) < inner.streams_per_connection);
        let lane = match (with_room, &inner.new_client) {
            (Some(lane), _) => lane.clone(),
            (None, Some(new_client)) => match new_client() {
                Ok(client) => {
                    let lane = Lane::new(client);
                    lanes.push(lane.clone());
                    tracing::info!(lanes = lanes.len(), "opening another connection lane to Anthropic");
                    lane
                }
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), "could not build another HTTP client; overfilling a lane");
                    least_busy(&lanes)
                }
            },
            (None, None) => least_busy(&lanes),
        };
        lane.in_flight.fetch_add(1, Ordering::Relaxed);
        LaneTicket { lane }
    }
}

/// There is always a lane: the first one is made with the lanes.
fn least_busy(lanes: &[Arc<Lane>]) -> Arc<Lane> {
    let lane = lanes.iter().min_by_key(|lane| lane.in_flight.load(Ordering::Relaxed));
    lane.expect("the first lane is made with the lanes").clone()
}

/// One stream's place on a lane; dropping it frees the place.
pub struct LaneTicket {
    lane: Arc<Lane>,
}

impl LaneTicket {
    /// The lane's client, to build the request with.
    pub fn client(&self) -> &reqwest::Client {
        &self.lane.client
    }

    /// Sends `request` (built on [`LaneTicket::client`]) and returns once the response head came.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
        let lane = &self.lane;
        if lane.answered.load(Ordering::Acquire) {
            return request.send().await;
        }
        let _first = tokio::time::timeout(FIRST_ANSWER_WAIT, lane.first.lock()).await;
        let response = request.send().await;
        if response.is_ok() {
            lane.answered.store(true, Ordering::Release);
        }
        response
    }

    /// `body`, holding this ticket until the body ends or is dropped.
    pub fn hold_while<S: Stream + Send + 'static>(self, body: S) -> impl Stream<Item = S::Item> + Send + 'static {
        body.map(move |item| {
            let _held = &self;
            item
        })
    }
}

impl Drop for LaneTicket {
    fn drop(&mut self) {
        self.lane.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes_of(per_connection: usize) -> ConnectionLanes {
        ConnectionLanes::new(per_connection, reqwest::Client::new(), || Ok(reqwest::Client::new()))
    }

    #[test]
    fn streams_fill_the_first_lane_before_another_opens() {
        let lanes = lanes_of(2);
        let first: Vec<_> = (0..2).map(|_| lanes.acquire()).collect();
        assert_eq!(lanes.lane_count(), 1);
        let third = lanes.acquire();
        assert_eq!(lanes.lane_count(), 2);
        drop(first);
        // Room again on the first lane: the next stream goes there, no third lane.
        let _again: Vec<_> = (0..2).map(|_| lanes.acquire()).collect();
        assert_eq!(lanes.lane_count(), 2);
        drop(third);
    }

    #[test]
    fn a_single_lane_takes_every_stream() {
        let lanes = ConnectionLanes::single(reqwest::Client::new());
        let _tickets: Vec<_> = (0..1000).map(|_| lanes.acquire()).collect();
        assert_eq!(lanes.lane_count(), 1);
    }

    #[test]
    fn a_lane_that_cannot_be_built_overfills_the_least_busy_one() {
        let built = Arc::new(AtomicUsize::new(0));
        let counter = built.clone();
        let lanes = ConnectionLanes::new(1, reqwest::Client::new(), move || {
            if counter.fetch_add(1, Ordering::Relaxed) == 0 {
                Ok(reqwest::Client::new())
            } else {
                anyhow::bail!("no more clients")
            }
        });
        let tickets: Vec<_> = (0..4).map(|_| lanes.acquire()).collect();
        assert_eq!(lanes.lane_count(), 2);
        let per_lane: Vec<usize> =
            lanes.inner.lanes.lock().iter().map(|lane| lane.in_flight.load(Ordering::Relaxed)).collect();
        assert_eq!(per_lane, [2, 2]);
        drop(tickets);
    }
}
