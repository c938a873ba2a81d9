//! The monthly message quota per user: tier from the `chat_rate_limit_tier` flag (free, paid,
//! unlimited), limits from `RATE_LIMIT_FREE` / `RATE_LIMIT_PAID`, counting in the store. Check and
//! count are one atomic statement ([`reserve`]); the [`Reservation`] it returns is the one way to
//! give the unit back ([`Reservation::refund`]).

use chrono::{DateTime, Utc};
use store::{FeatureFlags, Period, Store};

use crate::config::QuotaConfig;

/// The limit of the unlimited tier (the original's 999999).
pub const UNLIMITED: i64 = 999_999;

/// A reserved message, to be refunded if the turn fails before any assistant output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub user_id: String,
    /// The month the unit was taken from (a refund gives it back there, even after the month ends).
    pub period: Period,
    /// The count including this message.
    pub usage: i64,
    pub limit: i64,
}

/// The user has no messages left this month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exceeded {
    pub usage: i64,
    pub limit: i64,
    /// Seconds until the first of next month, 00:00 UTC.
    pub retry_after: i64,
}

/// The limit for a user's flags.
pub fn limit_for(flags: &FeatureFlags, config: &QuotaConfig) -> i64 {
    match flags.get("chat_rate_limit_tier").and_then(|v| v.as_str()) {
        Some("paid") => config.paid.into(),
        Some("unlimited") => UNLIMITED,
        _ => config.free.into(),
    }
}

/// Reserves one message for `user_id` at `now`.
pub async fn reserve(
    store: &Store,
    config: &QuotaConfig,
    flags: &FeatureFlags,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Result<Reservation, Exceeded>, store::StoreError> {
    let period = Period::of(now);
    let limit = limit_for(flags, config);
    Ok(match store.reserve_message(user_id, period, limit).await? {
        store::Reservation::Admitted { usage } => {
            Ok(Reservation { user_id: user_id.to_string(), period, usage, limit })
        }
        store::Reservation::Rejected { usage } => {
            Err(Exceeded { usage, limit, retry_after: period.seconds_until_reset(now) })
        }
    })
}

impl Reservation {
    /// Gives the message back (the turn failed before any assistant output reached the user). The
    /// unit returns to the month it was taken from, and usage never goes below zero.
    pub async fn refund(self, store: &Store) -> Result<(), store::StoreError> {
        store.refund_message(&self.user_id, self.period).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tiers_map_to_limits() {
        let config = QuotaConfig { free: 50, paid: 500 };
        let flags =
            |tier: &str| FeatureFlags([("chat_rate_limit_tier".to_string(), json!(tier))].into_iter().collect());
        assert_eq!(limit_for(&FeatureFlags::default(), &config), 50);
        assert_eq!(limit_for(&flags("free"), &config), 50);
        assert_eq!(limit_for(&flags("paid"), &config), 500);
        assert_eq!(limit_for(&flags("unlimited"), &config), UNLIMITED);
        assert_eq!(limit_for(&flags("platinum"), &config), 50);
    }
}
