//! The live, shared state of running turns (DESIGN §8): each turn's event log (resume on any
//! instance), stop requests, leases of running turns (a dead instance's turns are closed by
//! another) and the per-user cap. With `REDIS_URL` all of it lives in Redis and holds across
//! instances; without, in this process (`make run`). Redis down is a degraded mode: chat goes on,
//! what needs Redis pauses, and [`Live::redis_up`] tells `/health/ready`.

pub mod event_log;
pub mod lease;
pub mod memory_log;
pub mod redis_link;
pub mod redis_log;
pub mod stops;
pub mod user_cap;

use std::sync::Arc;
use std::time::Duration;

use event_log::EventLog;
use lease::LiveTurn;
use redis_link::RedisLink;
use stops::Stops;
use user_cap::{CapSlot, UserCap};

use crate::config::TurnsConfig;

/// Everything a turn, a resume and a stop share; cheap to clone.
#[derive(Clone)]
pub struct Live {
    pub log: Arc<dyn EventLog>,
    pub stops: Stops,
    pub cap: UserCap,
    /// How long a running turn's lease lasts without renewal.
    pub lease: Duration,
    redis: Option<RedisLink>,
}

impl Live {
    /// The shared state `config` asks for; `per_user` is `CONCURRENT_TURNS_PER_USER`.
    pub fn new(config: &TurnsConfig, per_user: usize) -> anyhow::Result<Live> {
        let lease = config.lease.max(lease::MIN_LEASE);
        let redis = match &config.redis_url {
            Some(url) => Some(RedisLink::new(url.expose(), &config.redis_key_prefix)?),
            None => None,
        };
        let log: Arc<dyn EventLog> = match &redis {
            Some(link) => Arc::new(redis_log::RedisLog::new(link.clone(), config.event_retention)),
            None => Arc::new(memory_log::MemoryLog::new(config.event_retention)),
        };
        Ok(Live {
            log,
            stops: Stops::new(redis.clone()),
            cap: UserCap::new(per_user, redis.clone(), lease),
            lease,
            redis,
        })
    }

    /// `None` without Redis; otherwise whether it answers a ping.
    pub async fn redis_up(&self) -> Option<bool> {
        match &self.redis {
            Some(redis) => Some(redis.ping().await),
            None => None,
        }
    }

    pub fn shared(&self) -> bool {
        self.redis.is_some()
    }

    /// A turn starts running under `slot`: stoppable, and leased with Redis.
    pub async fn begin(&self, turn: &str, slot: CapSlot) -> LiveTurn {
        LiveTurn::begin(self, turn, slot).await
    }

    fn running_key(redis: &RedisLink) -> String {
        redis.key("running")
    }

    /// Moves the turn's lease deadline forward (and the log's expiry with it).
    async fn renew_lease(&self, turn: &str) {
        let Some(redis) = &self.redis else { return };
        let deadline = unix_ms() + self.lease.as_millis() as i64;
        let result: redis::RedisResult<()> = redis::cmd("ZADD")
            .arg(Self::running_key(redis))
            .arg(deadline)
            .arg(turn)
            .query_async(&mut redis.conn())
            .await;
        if redis.noted(result).is_ok() {
            let _ = self.log.keep(turn).await;
        }
    }

    /// The turn ended here: it holds no lease any more.
    async fn end_lease(&self, turn: &str) {
        let Some(redis) = &self.redis else { return };
        let result: redis::RedisResult<i64> =
            redis::cmd("ZREM").arg(Self::running_key(redis)).arg(turn).query_async(&mut redis.conn()).await;
        let _ = redis.noted(result);
    }

    /// Turns whose lease ran out, each claimed by this instance alone (removed from the running set
    /// by one atomic `ZREM`: the instance whose removal counted closes the turn).
    pub async fn claim_expired(&self, at_most: usize) -> Vec<String> {
        let Some(redis) = &self.redis else { return Vec::new() };
        let key = Self::running_key(redis);
        let expired: redis::RedisResult<Vec<String>> = redis::cmd("ZRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(unix_ms())
            .arg("LIMIT")
            .arg(0)
            .arg(at_most)
            .query_async(&mut redis.conn())
            .await;
        let Ok(expired) = redis.noted(expired) else { return Vec::new() };
        let mut claimed = Vec::new();
        for turn in expired {
            let removed: redis::RedisResult<i64> =
                redis::cmd("ZREM").arg(&key).arg(&turn).query_async(&mut redis.conn()).await;
            if matches!(redis.noted(removed), Ok(1)) {
                claimed.push(turn);
            }
        }
        claimed
    }
}

/// Milliseconds since the Unix epoch (lease deadlines are compared across instances).
pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
