//! Key-value state of tool plugins, scoped to (plugin, user), with expiry. Plugins keep nothing in
//! memory between calls; previews and similar short-lived data live here.

use chrono::{DateTime, Utc};

use crate::{Result, Store, with_pool};

/// The most one (plugin, user) may keep: live keys, and bytes of keys plus values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateQuota {
    pub max_keys: u64,
    pub max_bytes: u64,
}

/// What [`Store::tool_state_put`] did.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatePut {
    Stored,
    /// Nothing was written: the quota would have been exceeded.
    QuotaExceeded,
}

/// What one (plugin, user) keeps now (expired rows not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateUsage {
    pub keys: u64,
    pub bytes: u64,
}

impl Store {
    /// The value under `key`, unless it expired before `now`.
    pub async fn tool_state_get(
        &self,
        plugin: &str,
        user_id: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        self.live_value(
            "SELECT value FROM tool_state WHERE plugin = $1 AND user_id = $2 AND key = $3 AND expires_at > $4",
            (plugin, user_id, key, now),
        )
        .await
    }

    /// Stores `value` until `expires_at`, replacing what was there, unless the (plugin, user)'s live
    /// keys would then exceed `quota` (an overwrite counts its new size instead of the old). The
    /// write is refused whole; rows that expired before now do not count.
    pub async fn tool_state_put(
        &self,
        plugin: &str,
        user_id: &str,
        key: &str,
        value: &str,
        expires_at: DateTime<Utc>,
        quota: StateQuota,
    ) -> Result<StatePut> {
        // One statement checks and writes. SQLite runs it as one write transaction (writers are
        // serialised); on Postgres two concurrent statements would both see the old totals, so the
        // (plugin, user) is locked for the transaction first.
        const PUT_WITHIN_QUOTA: &str = "INSERT INTO tool_state (plugin, user_id, key, value, expires_at) \
             SELECT $1, $2, $3, $4, $5 \
             WHERE (SELECT count(*) + 1 <= $7 AND coalesce(sum(octet_length(key) + octet_length(value)), 0) + $8 <= $9 \
                    FROM tool_state WHERE plugin = $1 AND user_id = $2 AND key <> $3 AND expires_at > $6) \
             ON CONFLICT (plugin, user_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";
        let size = (key.len() + value.len()) as i64;
        let clamp = |limit: u64| limit.min(i64::MAX as u64) as i64;
        let now = crate::now();
        let postgres = self.backend() == crate::Backend::Postgres;
        let written = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))")
                    .bind(plugin)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let written = sqlx::query(PUT_WITHIN_QUOTA)
                .bind(plugin)
                .bind(user_id)
                .bind(key)
                .bind(value)
                .bind(expires_at)
                .bind(now)
                .bind(clamp(quota.max_keys))
                .bind(size)
                .bind(clamp(quota.max_bytes))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            written
        });
        Ok(if written == 0 { StatePut::QuotaExceeded } else { StatePut::Stored })
    }

    /// Live keys of one (plugin, user) and their bytes (key + value), as the quota counts them.
    pub async fn tool_state_usage(&self, plugin: &str, user_id: &str) -> Result<StateUsage> {
        let (keys, bytes): (i64, i64) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT count(*), coalesce(sum(octet_length(key) + octet_length(value)), 0) \
                 FROM tool_state WHERE plugin = $1 AND user_id = $2 AND expires_at > $3",
            )
            .bind(plugin)
            .bind(user_id)
            .bind(crate::now())
            .fetch_one(pool)
            .await?
        });
        Ok(StateUsage { keys: keys as u64, bytes: bytes as u64 })
    }

    /// Reads and deletes in one statement: of two concurrent takes, one gets the value.
    pub async fn tool_state_take(
        &self,
        plugin: &str,
        user_id: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        self.live_value(
            "DELETE FROM tool_state WHERE plugin = $1 AND user_id = $2 AND key = $3 AND expires_at > $4 RETURNING value",
            (plugin, user_id, key, now),
        )
        .await
    }

    /// Runs `sql`, a statement over one unexpired key (`$1` plugin, `$2` user, `$3` key, `$4` now)
    /// that yields its value.
    async fn live_value(
        &self,
        sql: &'static str,
        (plugin, user_id, key, now): (&str, &str, &str, DateTime<Utc>),
    ) -> Result<Option<String>> {
        let value = with_pool!(self, pool => {
            sqlx::query_scalar(sql).bind(plugin).bind(user_id).bind(key).bind(now).fetch_optional(pool).await?
        });
        Ok(value)
    }

    /// Deletes `key`; a missing key is not an error.
    pub async fn tool_state_delete(&self, plugin: &str, user_id: &str, key: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM tool_state WHERE plugin = $1 AND user_id = $2 AND key = $3")
                .bind(plugin)
                .bind(user_id)
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Removes every expired value; returns how many (the periodic purge calls it).
    pub async fn tool_state_purge_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        let n = with_pool!(self, pool => {
            sqlx::query("DELETE FROM tool_state WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n)
    }
}
