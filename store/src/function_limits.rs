//! Hourly per-function call limits (the sync tools allow 3 calls per user per hour). Like the
//! monthly quota, check and count are one statement, committed asynchronously on Postgres.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::{Result, Store, with_counter_conn, with_pool};

/// The answer of [`Store::hit_function_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitDecision {
    pub allowed: bool,
    /// Calls counted in the window (including this one when allowed).
    pub count: i64,
    pub limit: i64,
    /// Seconds until the window ends.
    pub retry_after_seconds: i64,
}

/// The start of the clock hour containing `at`.
pub fn hour_window(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

impl Store {
    /// Counts one call of `function` by `user_id` in the hour containing `at`, unless `limit` calls
    /// were already counted there.
    pub async fn hit_function_limit(
        &self,
        user_id: &str,
        function: &str,
        limit: i64,
        at: DateTime<Utc>,
    ) -> Result<LimitDecision> {
        let window = hour_window(at);
        let retry_after_seconds = ((window + TimeDelta::hours(1)) - at).num_seconds().max(1);
        let counted: Option<i32> = if limit <= 0 {
            None
        } else {
            with_counter_conn!(self, conn => {
                sqlx::query_scalar(
                    "INSERT INTO function_rate_limits (user_id, function_name, window_start, call_count) VALUES ($1, $2, $3, 1) \
                     ON CONFLICT (user_id, function_name, window_start) DO UPDATE \
                     SET call_count = function_rate_limits.call_count + 1 \
                     WHERE function_rate_limits.call_count < $4 \
                     RETURNING call_count",
                )
                .bind(user_id)
                .bind(function)
                .bind(window)
                .bind(limit.min(i32::MAX as i64) as i32)
                .fetch_optional(conn)
                .await?
            })
        };
        if let Some(count) = counted {
            return Ok(LimitDecision { allowed: true, count: count.into(), limit, retry_after_seconds });
        }
        let count: Option<i32> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT call_count FROM function_rate_limits WHERE user_id = $1 AND function_name = $2 AND window_start = $3",
            )
            .bind(user_id)
            .bind(function)
            .bind(window)
            .fetch_optional(pool)
            .await?
        });
        Ok(LimitDecision { allowed: false, count: count.unwrap_or(0).into(), limit, retry_after_seconds })
    }

    /// Removes the counters of hours before the one containing `now`: no decision reads them again.
    /// Returns how many (the periodic purge calls it).
    pub async fn function_limits_purge_stale(&self, now: DateTime<Utc>) -> Result<u64> {
        let n = with_pool!(self, pool => {
            sqlx::query("DELETE FROM function_rate_limits WHERE window_start < $1")
                .bind(hour_window(now))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n)
    }
}
