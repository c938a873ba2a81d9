//! The monthly message quota. `reserve` checks and counts in one statement, so concurrent turns of
//! one user can never pass the limit; `refund` gives a unit back for a turn the AI provider failed.
//! Both commit asynchronously on Postgres ([`with_counter_conn!`](crate::with_counter_conn)). Over the
//! original Supabase schema a month starts from the original's usage ([`crate::original_usage`]).

use chrono::{DateTime, Datelike, TimeZone, Utc};

use crate::original_usage::{RESERVE_CARRYING_OVER, USAGE_CARRYING_OVER, period_days};
use crate::{Result, Store, with_counter_conn, with_pool};

/// A calendar month in UTC, the unit the quota counts in (`YYYY-MM`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub year: i32,
    pub month: u32,
}

impl Period {
    pub fn of(at: DateTime<Utc>) -> Period {
        Period { year: at.year(), month: at.month() }
    }

    /// `YYYY-MM`, the value of `chat_rate_limits.period`.
    pub fn key(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// Midnight UTC on the first day of the next month, when usage resets.
    pub fn next_start(&self) -> DateTime<Utc> {
        let (y, m) = if self.month == 12 { (self.year + 1, 1) } else { (self.year, self.month + 1) };
        Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().expect("first of month is a valid date")
    }

    /// Whole seconds from `at` until the reset (at least 1).
    pub fn seconds_until_reset(&self, at: DateTime<Utc>) -> i64 {
        (self.next_start() - at).num_seconds().max(1)
    }
}

/// The outcome of a reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Counted; `usage` includes this message.
    Admitted { usage: i64 },
    /// The limit is reached; nothing was counted.
    Rejected { usage: i64 },
}

impl Store {
    /// Counts one message for `user_id` in `period` if the count is below `limit`.
    pub async fn reserve_message(&self, user_id: &str, period: Period, limit: i64) -> Result<Reservation> {
        if limit <= 0 {
            return Ok(Reservation::Rejected { usage: self.message_usage(user_id, period).await? });
        }
        let key = period.key();
        let limit = limit.min(i32::MAX as i64) as i32;
        let counted: Option<i32> = if let Some(pool) = self.original_usage_pool() {
            let (first, next) = period_days(period);
            sqlx::query_scalar(RESERVE_CARRYING_OVER)
                .bind(user_id)
                .bind(&key)
                .bind(crate::now())
                .bind(limit)
                .bind(first)
                .bind(next)
                .fetch_optional(pool)
                .await?
        } else {
            with_counter_conn!(self, conn => {
                sqlx::query_scalar(
                    "INSERT INTO chat_rate_limits (user_id, period, count, updated_at) VALUES ($1, $2, 1, $3) \
                     ON CONFLICT (user_id, period) DO UPDATE SET count = chat_rate_limits.count + 1, updated_at = $3 \
                     WHERE chat_rate_limits.count < $4 \
                     RETURNING count",
                )
                .bind(user_id)
                .bind(&key)
                .bind(crate::now())
                .bind(limit)
                .fetch_optional(conn)
                .await?
            })
        };
        if counted.is_some() {
            self.mirror_original_usage(user_id, period, 1).await;
        }
        Ok(match counted {
            Some(usage) => Reservation::Admitted { usage: usage.into() },
            None => Reservation::Rejected { usage: self.message_usage(user_id, period).await? },
        })
    }

    /// Gives one unit back; never goes below zero.
    pub async fn refund_message(&self, user_id: &str, period: Period) -> Result<()> {
        let refunded = with_counter_conn!(self, conn => {
            sqlx::query(
                "UPDATE chat_rate_limits SET count = count - 1, updated_at = $3 \
                 WHERE user_id = $1 AND period = $2 AND count > 0",
            )
            .bind(user_id)
            .bind(period.key())
            .bind(crate::now())
            .execute(conn)
            .await?
            .rows_affected()
        });
        if refunded > 0 {
            self.mirror_original_usage(user_id, period, -1).await;
        }
        Ok(())
    }

    /// Messages counted for `user_id` in `period`.
    pub async fn message_usage(&self, user_id: &str, period: Period) -> Result<i64> {
        if let Some(pool) = self.original_usage_pool() {
            let (first, next) = period_days(period);
            let usage: i32 = sqlx::query_scalar(USAGE_CARRYING_OVER)
                .bind(user_id)
                .bind(period.key())
                .bind(first)
                .bind(next)
                .fetch_one(pool)
                .await?;
            return Ok(usage.into());
        }
        let usage: Option<i32> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT count FROM chat_rate_limits WHERE user_id = $1 AND period = $2")
                .bind(user_id)
                .bind(period.key())
                .fetch_optional(pool)
                .await?
        });
        Ok(usage.unwrap_or(0).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn december_rolls_into_january() {
        let p = Period::of(Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap());
        assert_eq!(p.key(), "2026-12");
        assert_eq!(p.next_start(), Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(p.seconds_until_reset(Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap()), 1);
    }

    #[test]
    fn retry_after_counts_to_the_first_of_next_month() {
        let at = Utc.with_ymd_and_hms(2026, 2, 20, 0, 0, 0).unwrap();
        assert_eq!(Period::of(at).seconds_until_reset(at), 9 * 86_400);
    }
}
