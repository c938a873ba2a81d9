//! The budget of concurrent Claude calls shared by every instance (`ANTHROPIC_SHARED_MAX_CALLS`,
//! with `REDIS_URL`): Anthropic's limits are per organisation, so a burst spread over instances must
//! wait for one budget, not one per instance. A slot is a member of a Redis sorted set scored by its
//! lease's expiry; taking one is one Lua script (drop expired leases, count, add), timed by the Redis
//! server's clock so instances' clocks never matter. A holder renews its lease while its call runs
//! and removes it when done; a crashed instance's slots expire with their lease.
//!
//! The set is named after a fingerprint of the Anthropic key, since the limit is the key's (and
//! services sharing a Redis with different keys do not share a budget). Redis unreachable is a
//! degraded mode, never an outage: the call goes on within this instance's own bound.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

/// How long a slot is held without renewal (a dead instance's slots free up after this).
const LEASE: Duration = Duration::from_secs(30);
/// How often a held slot's lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(10);

const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
";

const RENEW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[2]) == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
end
return 1
";

/// The shared budget; cheap to share behind an `Arc`.
pub struct SharedSlots {
    connection: ConnectionManager,
    key: String,
    limit: usize,
}

impl std::fmt::Debug for SharedSlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSlots").field("key", &self.key).field("limit", &self.limit).finish_non_exhaustive()
    }
}

/// A slot of the shared budget, given back when dropped.
pub struct SharedSlot {
    renewing: JoinHandle<()>,
}

impl Drop for SharedSlot {
    fn drop(&mut self) {
        // The renewing task removes the slot when it is aborted (see `hold`).
        self.renewing.abort();
    }
}

impl SharedSlots {
    /// `url` is `REDIS_URL` (checked, not connected: that happens on first use, and again after
    /// Redis was lost); `api_key` names the budget. Needs a Tokio runtime.
    pub fn new(url: &str, api_key: &str, limit: usize) -> Result<SharedSlots, redis::RedisError> {
        let fingerprint = hex::encode(&Sha256::digest(api_key.as_bytes())[..8]);
        // A call must not wait long on a Redis that is gone: it goes on within its instance's bound.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        Ok(SharedSlots {
            connection: ConnectionManager::new_lazy_with_config(redis::Client::open(url)?, config)?,
            key: format!("amakaflow-chat:claude-slots:{fingerprint}"),
            limit: limit.max(1),
        })
    }

    /// Takes a slot if one is free now: `Ok(None)` when the budget is spent, `Err` when Redis
    /// cannot be asked.
    pub async fn try_take(&self) -> Result<Option<SharedSlot>, redis::RedisError> {
        let mut connection = self.connection.clone();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let lease_ms = LEASE.as_millis() as u64;
        let taken: i64 = redis::Script::new(TAKE)
            .key(&self.key)
            .arg(self.limit)
            .arg(lease_ms)
            .arg(&id)
            .invoke_async(&mut connection)
            .await?;
        if taken == 0 {
            return Ok(None);
        }
        let renewing = tokio::spawn(hold(connection, self.key.clone(), id));
        Ok(Some(SharedSlot { renewing }))
    }
}

/// Renews the slot's lease until aborted; then removes the slot (from a task of its own, since an
/// aborted task runs no more code).
async fn hold(connection: ConnectionManager, key: String, id: String) {
    let _release = Release(Some((connection.clone(), key.clone(), id.clone())));
    let mut connection = connection;
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let renewed: Result<i64, _> = redis::Script::new(RENEW)
            .key(&key)
            .arg(LEASE.as_millis() as u64)
            .arg(&id)
            .invoke_async(&mut connection)
            .await;
        if let Err(err) = renewed {
            tracing::warn!(error = %err, "renewing a shared Claude slot failed");
        }
    }
}

/// Removes a slot when dropped (with the task that held it).
struct Release(Option<(ConnectionManager, String, String)>);

impl Drop for Release {
    fn drop(&mut self) {
        let (Some((mut connection, key, id)), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        runtime.spawn(async move {
            let removed: Result<i64, _> = redis::cmd("ZREM").arg(&key).arg(&id).query_async(&mut connection).await;
            if let Err(err) = removed {
                tracing::warn!(error = %err, "giving back a shared Claude slot failed; its lease will expire");
            }
        });
    }
}
