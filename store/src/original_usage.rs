//! The original service's usage counter, `ai_request_limits` (one row per user and day, summed over
//! the month), carried into this service's quota when the database has it (the Supabase deployment
//! this service replaces in place).
//!
//! How the two counters relate: `chat_rate_limits` stays the one the quota decides on (check and
//! count in one statement, so 200 concurrent reserves admit exactly the limit). Its row for a month
//! is created by the user's first message of that month, starting from the month's
//! `ai_request_limits` sum, in the same statement: on the day of the switch nobody's usage restarts at
//! zero. After that, every admitted message also adds one to the day's `ai_request_limits` row (and a
//! refund takes it back), so the month's sum there keeps equalling `chat_rate_limits.count` for
//! whatever else reads that table. That mirror is best effort, like the original's own increment: a
//! failed write is logged and never fails a turn.

use chrono::{Days, NaiveDate, Utc};
use sqlx::PgPool;

use crate::quota::Period;
use crate::{Pool, Result, Store};

/// Which of the original deployment's tables this database has, detected once when the store opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OriginalTables {
    pub ai_request_limits: bool,
}

impl OriginalTables {
    pub(crate) async fn detect(pool: &Pool) -> Result<OriginalTables> {
        let Pool::Postgres(pool) = pool else { return Ok(OriginalTables::default()) };
        let ai_request_limits: bool =
            sqlx::query_scalar("SELECT to_regclass('ai_request_limits') IS NOT NULL").fetch_one(pool).await?;
        Ok(OriginalTables { ai_request_limits })
    }
}

/// The first day of `period` and of the month after it (the range the original summed over).
pub(crate) fn period_days(period: Period) -> (NaiveDate, NaiveDate) {
    let first = NaiveDate::from_ymd_opt(period.year, period.month, 1).expect("a valid month");
    (first, period.next_start().date_naive())
}

/// The row `ai_request_limits` counts a message of `period` in: today's, or the period's nearest
/// day when the period is not the current month (a refund after the month ended).
fn counted_day(period: Period, today: NaiveDate) -> NaiveDate {
    let (first, next) = period_days(period);
    let last = next.checked_sub_days(Days::new(1)).unwrap_or(first);
    today.clamp(first, last)
}

/// The statement that reserves one message, seeding a new month's row from the original's sum.
/// Binds: $1 user, $2 period key, $3 now, $4 limit, $5 first day, $6 first day of the next month.
pub(crate) const RESERVE_CARRYING_OVER: &str = "\
    INSERT INTO chat_rate_limits (user_id, period, count, updated_at) \
    SELECT $1, $2, carried.n + 1, $3 FROM ( \
        SELECT COALESCE(SUM(request_count), 0)::int AS n FROM ai_request_limits \
        WHERE user_id = $1 AND request_date >= $5 AND request_date < $6) carried \
    WHERE carried.n < $4 \
    ON CONFLICT (user_id, period) DO UPDATE SET count = chat_rate_limits.count + 1, updated_at = $3 \
    WHERE chat_rate_limits.count < $4 \
    RETURNING count";

/// Usage of a month: this service's count once the month's row exists, else the original's sum.
/// Binds: $1 user, $2 period key, $3 first day, $4 first day of the next month.
pub(crate) const USAGE_CARRYING_OVER: &str = "\
    SELECT COALESCE( \
        (SELECT count FROM chat_rate_limits WHERE user_id = $1 AND period = $2), \
        (SELECT COALESCE(SUM(request_count), 0)::int FROM ai_request_limits \
         WHERE user_id = $1 AND request_date >= $3 AND request_date < $4))";

impl Store {
    /// The original's counter follows an admitted message (+1) or a refund (-1) of `period`.
    pub(crate) async fn mirror_original_usage(&self, user_id: &str, period: Period, delta: i32) {
        let Some(pool) = self.original_usage_pool() else { return };
        let result = if delta > 0 {
            sqlx::query(
                "INSERT INTO ai_request_limits AS l (user_id, request_date, request_count, last_request_at) \
                 VALUES ($1, $2, 1, now()) ON CONFLICT (user_id, request_date) DO UPDATE \
                 SET request_count = l.request_count + 1, updated_at = now(), last_request_at = now()",
            )
            .bind(user_id)
            .bind(counted_day(period, Utc::now().date_naive()))
            .execute(pool)
            .await
        } else {
            // The latest counted day of the month gives the unit back, so the month's sum follows.
            let (first, next) = period_days(period);
            sqlx::query(
                "UPDATE ai_request_limits SET request_count = request_count - 1, updated_at = now() \
                 WHERE id = (SELECT id FROM ai_request_limits WHERE user_id = $1 AND request_date >= $2 \
                 AND request_date < $3 AND request_count > 0 ORDER BY request_date DESC LIMIT 1)",
            )
            .bind(user_id)
            .bind(first)
            .bind(next)
            .execute(pool)
            .await
        };
        if let Err(error) = result {
            tracing::warn!(user_id, %error, "ai_request_limits not updated (the quota itself is counted)");
        }
    }

    /// The counter pool when this database has the original's `ai_request_limits`.
    pub(crate) fn original_usage_pool(&self) -> Option<&PgPool> {
        match (&self.pool, self.original.ai_request_limits) {
            (Pool::Postgres(main), true) => Some(self.counters.as_ref().unwrap_or(main)),
            _ => None,
        }
    }

    /// Which of the original deployment's tables this database has.
    pub fn original_tables(&self) -> OriginalTables {
        self.original
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_spans_its_calendar_days() {
        let (first, next) = period_days(Period { year: 2026, month: 12 });
        assert_eq!((first.to_string(), next.to_string()), ("2026-12-01".into(), "2027-01-01".into()));
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert_eq!(counted_day(Period { year: 2026, month: 12 }, today), today);
        assert_eq!(counted_day(Period { year: 2026, month: 11 }, today).to_string(), "2026-11-30");
        assert_eq!(counted_day(Period { year: 2027, month: 1 }, today).to_string(), "2027-01-01");
    }
}
