//! Key-value state of tool plugins, scoped to (plugin, user), with expiry. Plugins keep nothing in
//! memory between calls; previews and similar short-lived data live here.

use chrono::{DateTime, Utc};

use crate::{Result, Store, with_pool};

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

    /// Stores `value` until `expires_at`, replacing what was there.
    pub async fn tool_state_put(
        &self,
        plugin: &str,
        user_id: &str,
        key: &str,
        value: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO tool_state (plugin, user_id, key, value, expires_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (plugin, user_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
            )
            .bind(plugin)
            .bind(user_id)
            .bind(key)
            .bind(value)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
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

    /// Removes every expired value; returns how many.
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
