//! The connection to Redis (`REDIS_URL`): one auto-reconnecting multiplexed connection for the
//! quick commands, fresh dedicated connections for what blocks (a resuming client's `XREAD BLOCK`,
//! the stop subscription), the key prefix every key starts with, and whether the last command
//! worked (for `/health/ready`). Nothing connects at start-up: a service started while Redis is
//! down runs degraded and picks Redis up as soon as it answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, RedisResult};

use super::event_log::LogUnavailable;

/// How long one Redis command may take before the caller goes on without it.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A cheap handle on the shared Redis connection.
#[derive(Clone)]
pub struct RedisLink {
    client: Client,
    manager: ConnectionManager,
    prefix: Arc<str>,
    healthy: Arc<AtomicBool>,
}

impl RedisLink {
    /// A link to `url` whose keys start with `prefix`; it connects on first use.
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<RedisLink> {
        let client = Client::open(url).map_err(|err| anyhow::anyhow!("REDIS_URL: {:?}", err.kind()))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|err| anyhow::anyhow!("REDIS_URL: {:?}", err.kind()))?;
        metrics::gauge!("chat_redis_up").set(1.0);
        Ok(RedisLink { client, manager, prefix: prefix.into(), healthy: Arc::new(AtomicBool::new(true)) })
    }

    /// `<prefix><rest>`.
    pub fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// The shared connection (cloning it is cheap; commands are pipelined over one socket).
    pub fn conn(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// A connection of its own, for a command that blocks (it would hold up every other command on
    /// the shared one).
    pub async fn dedicated(&self, response_timeout: Duration) -> RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(response_timeout));
        self.client.get_multiplexed_async_connection_with_config(&config).await
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Notes how a command went: the result passes through, a failure becomes [`LogUnavailable`]
    /// (the error's kind only: a URL with a password never reaches a log).
    pub fn noted<T>(&self, result: RedisResult<T>) -> Result<T, LogUnavailable> {
        match result {
            Ok(value) => {
                self.set_healthy(true);
                Ok(value)
            }
            Err(err) => {
                self.set_healthy(false);
                Err(LogUnavailable(format!("{:?}", err.kind())))
            }
        }
    }

    fn set_healthy(&self, healthy: bool) {
        let was = self.healthy.swap(healthy, Ordering::Relaxed);
        if was != healthy {
            if healthy {
                tracing::info!("Redis answers again: resume, cross-instance stop and the shared limits are back");
            } else {
                tracing::warn!("Redis unreachable: chat goes on without resume, cross-instance stop and shared limits");
            }
            metrics::gauge!("chat_redis_up").set(if healthy { 1.0 } else { 0.0 });
        }
    }

    /// Whether Redis answered the last command (or a ping now, if asked).
    pub async fn ping(&self) -> bool {
        let result: RedisResult<String> = redis::cmd("PING").query_async(&mut self.conn()).await;
        self.noted(result).is_ok()
    }

    /// Whether the last command worked.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}
