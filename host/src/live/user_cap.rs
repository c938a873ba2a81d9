//! The per-user cap on running turns (`CONCURRENT_TURNS_PER_USER`) across instances. Each instance
//! keeps its own count ([`RunningTurns`]); with Redis a turn also takes a member of the user's
//! sorted set, scored with its lease deadline, so a slot of a dead instance frees itself once its
//! lease runs out. Redis unreachable: the instance's own count is the cap (degraded, not refused).

use std::time::Duration;

use redis::Script;

use super::redis_link::RedisLink;
use super::unix_ms;
use crate::chat::running_turns::{RunningTurns, TurnSlot};

/// Drops expired members, then adds one if the user is under the cap. KEYS[1] the user's set;
/// ARGV: now, lease deadline, cap, member, key TTL (ms).
const TAKE_SLOT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
";

#[derive(Clone)]
pub struct UserCap {
    local: RunningTurns,
    redis: Option<RedisLink>,
    lease: Duration,
}

impl UserCap {
    pub fn new(per_user: usize, redis: Option<RedisLink>, lease: Duration) -> UserCap {
        UserCap { local: RunningTurns::new(per_user), redis, lease }
    }

    pub fn per_user(&self) -> usize {
        self.local.per_user()
    }

    /// A slot for one more turn of `user_id`, or `None` when the user is at the cap.
    pub async fn start(&self, user_id: &str) -> Option<CapSlot> {
        let local = self.local.start(user_id)?;
        let Some(redis) = &self.redis else { return Some(CapSlot { _local: local, shared: None }) };
        let key = redis.key(&format!("user:{user_id}:turns"));
        let member = uuid::Uuid::new_v4().simple().to_string();
        let now = unix_ms();
        let lease = self.lease.as_millis() as i64;
        let taken: redis::RedisResult<i64> = Script::new(TAKE_SLOT)
            .key(&key)
            .arg(now)
            .arg(now + lease)
            .arg(self.local.per_user())
            .arg(&member)
            .arg(lease * 2)
            .invoke_async(&mut redis.conn())
            .await;
        match redis.noted(taken) {
            Ok(1) => Some(CapSlot { _local: local, shared: Some(SharedSlot { redis: redis.clone(), key, member }) }),
            Ok(_) => None,
            // Degraded: this instance's own count holds.
            Err(_) => Some(CapSlot { _local: local, shared: None }),
        }
    }
}

/// One running turn counted against its user's cap, given back when dropped.
pub struct CapSlot {
    _local: TurnSlot,
    shared: Option<SharedSlot>,
}

struct SharedSlot {
    redis: RedisLink,
    key: String,
    member: String,
}

impl CapSlot {
    /// Moves the shared slot's deadline (with every lease renewal).
    pub async fn renew(&self, deadline_ms: i64, lease: Duration) {
        let Some(slot) = &self.shared else { return };
        let result = redis::pipe()
            .cmd("ZADD")
            .arg(&slot.key)
            .arg("XX")
            .arg(deadline_ms)
            .arg(&slot.member)
            .ignore()
            .pexpire(&slot.key, lease.as_millis() as i64 * 2)
            .ignore()
            .exec_async(&mut slot.redis.conn())
            .await;
        let _ = slot.redis.noted(result);
    }
}

impl Drop for CapSlot {
    fn drop(&mut self) {
        let Some(slot) = self.shared.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let result: redis::RedisResult<i64> =
                redis::cmd("ZREM").arg(&slot.key).arg(&slot.member).query_async(&mut slot.redis.conn()).await;
            // Unreachable: the member's lease frees the slot.
            let _ = slot.redis.noted(result);
        });
    }
}
