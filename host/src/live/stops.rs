//! Stop requests: each running turn of this instance registers a [`CancellationToken`]; a stop
//! cancels it here directly, and, with Redis, is published on a channel every instance listens to
//! (and left as a key the running turn's lease renewal also checks, in case the message was missed
//! while the subscription was reconnecting).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::redis_link::RedisLink;
use crate::shutdown::Shutdown;

/// The running turns of this instance that can be stopped.
#[derive(Clone, Default)]
pub struct Stops {
    running: Arc<Mutex<HashMap<String, CancellationToken>>>,
    redis: Option<RedisLink>,
}

/// A stop key outlives the stop request by this much, at most (the turn reads it within a lease).
const STOP_KEY_TTL_MS: i64 = 60_000;

impl Stops {
    pub fn new(redis: Option<RedisLink>) -> Stops {
        Stops { running: Arc::default(), redis }
    }

    /// Registers a running turn; the guard unregisters it when the turn ends.
    pub fn register(&self, turn: &str) -> StopRegistration {
        let token = CancellationToken::new();
        self.running.lock().insert(turn.to_string(), token.clone());
        StopRegistration { stops: self.clone(), turn: turn.to_string(), token }
    }

    /// Stops `turn` wherever it runs. `false` when it runs on no reachable instance we can tell of
    /// (here, without Redis; Redis unreachable).
    pub async fn request(&self, turn: &str) -> bool {
        let here = self.stop_here(turn);
        let Some(redis) = &self.redis else { return here };
        let result = redis::pipe()
            .cmd("SET")
            .arg(redis.key(&format!("turn:{turn}:stop")))
            .arg("1")
            .arg("PX")
            .arg(STOP_KEY_TTL_MS)
            .ignore()
            .cmd("PUBLISH")
            .arg(redis.key("stops"))
            .arg(turn)
            .ignore()
            .exec_async(&mut redis.conn())
            .await;
        redis.noted(result).is_ok() || here
    }

    /// Whether a stop was requested for `turn` through Redis (the lease renewal's check).
    pub async fn requested(&self, turn: &str) -> bool {
        let Some(redis) = &self.redis else { return false };
        let result: redis::RedisResult<bool> =
            redis::cmd("EXISTS").arg(redis.key(&format!("turn:{turn}:stop"))).query_async(&mut redis.conn()).await;
        redis.noted(result).unwrap_or(false)
    }

    /// Cancels `turn` if it runs on this instance.
    pub fn stop_here(&self, turn: &str) -> bool {
        match self.running.lock().get(turn) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Listens for stop requests published by any instance until shutdown, resubscribing after a
    /// lost connection.
    pub fn listen(&self, shutdown: Shutdown) {
        let Some(redis) = self.redis.clone() else { return };
        let stops = self.clone();
        tokio::spawn(async move {
            let channel = redis.key("stops");
            loop {
                let subscribed = async {
                    let mut pubsub = redis.client().get_async_pubsub().await?;
                    pubsub.subscribe(&channel).await?;
                    Ok::<_, redis::RedisError>(pubsub)
                };
                match subscribed.await {
                    Ok(pubsub) => {
                        let mut messages = pubsub.into_on_message();
                        loop {
                            tokio::select! {
                                message = messages.next() => match message {
                                    Some(message) => {
                                        if let Ok(turn) = message.get_payload::<String>() {
                                            stops.stop_here(&turn);
                                        }
                                    }
                                    None => break,
                                },
                                () = shutdown.draining() => return,
                            }
                        }
                        tracing::warn!("the stop subscription to Redis was lost; resubscribing");
                    }
                    Err(err) => tracing::debug!(error = ?err.kind(), "subscribing to stop requests failed"),
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    () = shutdown.draining() => return,
                }
            }
        });
    }
}

/// One running turn's stop token, unregistered when dropped.
pub struct StopRegistration {
    stops: Stops,
    turn: String,
    token: CancellationToken,
}

impl StopRegistration {
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for StopRegistration {
    fn drop(&mut self) {
        self.stops.running.lock().remove(&self.turn);
    }
}
