//! The monthly message quota at the edge: atomic reservation under contention, refunds, the
//! month boundary, and the tier and chat gate read from feature flags.

use chrono::{DateTime, TimeZone, Utc};
use host::config::QuotaConfig;
use host::quota::{self, UNLIMITED, limit_for};
use serde_json::json;
use store::Period;
use store::flags::FlagScope;

use super::*;

const LIMITS: QuotaConfig = QuotaConfig { free: 50, paid: 500 };

async fn reserve_many(
    store: &Store,
    user: &str,
    n: usize,
    at: DateTime<Utc>,
) -> Vec<Result<quota::Reservation, quota::Exceeded>> {
    end_to_end::quota_race::reserve_many(store, &LIMITS, user, n, at).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_reserves_admit_exactly_the_limit() {
    for backend in BACKENDS {
        let db = database(backend).await;
        let now = Utc::now();
        let outcomes = reserve_many(&db.store, "user_racer", 200, now).await;
        let mut admitted: Vec<i64> = outcomes.iter().filter_map(|o| o.as_ref().ok().map(|a| a.usage)).collect();
        admitted.sort_unstable();
        assert_eq!(admitted, (1..=50).collect::<Vec<_>>(), "{backend:?}: each admitted reserve saw its own count");
        let rejected: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
        assert_eq!(rejected.len(), 150, "{backend:?}");
        for r in rejected {
            assert_eq!((r.usage, r.limit), (50, 50), "{backend:?}");
            assert_eq!(r.retry_after, Period::of(now).seconds_until_reset(now));
        }
        assert_eq!(db.store.message_usage("user_racer", Period::of(now)).await.unwrap(), 50, "{backend:?}");
        assert_eq!(db.store.message_usage("user_other", Period::of(now)).await.unwrap(), 0, "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refunds_racing_reserves_keep_the_count_exact_and_within_bounds() {
    for backend in BACKENDS {
        let db = database(backend).await;
        let now = Utc::now();
        let first = reserve_many(&db.store, "user_busy", 50, now).await;
        assert!(first.iter().all(Result::is_ok));
        let admitted = first[0].clone().unwrap();
        let refunds: Vec<_> = (0..30)
            .map(|_| {
                let (store, admitted) = (db.store.clone(), admitted.clone());
                tokio::spawn(async move { admitted.refund(&store).await.unwrap() })
            })
            .collect();
        let reserves = reserve_many(&db.store, "user_busy", 30, now);
        let (_, reserves) = futures::join!(futures::future::join_all(refunds), reserves);
        let readmitted = reserves.iter().filter(|r| r.is_ok()).count() as i64;
        let usage = db.store.message_usage("user_busy", Period::of(now)).await.unwrap();
        assert_eq!(usage, 50 - 30 + readmitted, "{backend:?}: every refund and admission counted once");
        assert!(usage <= 50, "{backend:?}");
    }
}

#[tokio::test]
async fn refunds_never_go_below_zero() {
    for backend in BACKENDS {
        let db = database(backend).await;
        let now = Utc::now();
        let admitted: Vec<_> =
            reserve_many(&db.store, "user_refund", 2, now).await.into_iter().map(Result::unwrap).collect();
        for _ in 0..5 {
            admitted[0].clone().refund(&db.store).await.unwrap();
        }
        assert_eq!(db.store.message_usage("user_refund", Period::of(now)).await.unwrap(), 0, "{backend:?}");
        // A refund for a user who never reserved creates nothing.
        let never = quota::Reservation { user_id: "user_never".into(), ..admitted[0].clone() };
        never.refund(&db.store).await.unwrap();
        assert_eq!(db.store.message_usage("user_never", Period::of(now)).await.unwrap(), 0);
        let again = reserve_many(&db.store, "user_refund", 1, now).await;
        assert_eq!(again[0].as_ref().unwrap().usage, 1, "{backend:?}: counting restarts from zero");
    }
}

#[tokio::test]
async fn the_month_boundary_resets_usage() {
    for backend in BACKENDS {
        let db = database(backend).await;
        let config = QuotaConfig { free: 3, paid: 10 };
        let flags = db.store.feature_flags("user_month").await.unwrap();
        let january_end = Utc.with_ymd_and_hms(2026, 1, 31, 23, 59, 58).unwrap();
        let mut january = Vec::new();
        for _ in 0..3 {
            january.push(quota::reserve(&db.store, &config, &flags, "user_month", january_end).await.unwrap().unwrap());
        }
        let exceeded =
            quota::reserve(&db.store, &config, &flags, "user_month", january_end).await.unwrap().unwrap_err();
        assert_eq!((exceeded.usage, exceeded.limit, exceeded.retry_after), (3, 3, 2), "{backend:?}");

        let february_start = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        let february = quota::reserve(&db.store, &config, &flags, "user_month", february_start).await.unwrap().unwrap();
        assert_eq!(february.usage, 1, "{backend:?}: a new month starts from zero");
        let after = quota::reserve(&db.store, &config, &flags, "user_month", february_start).await.unwrap().unwrap();
        assert_eq!(after.usage, 2);

        // A January turn that fails in February gives its unit back to January.
        january[2].clone().refund(&db.store).await.unwrap();
        assert_eq!(db.store.message_usage("user_month", Period::of(january_end)).await.unwrap(), 2);
        assert_eq!(db.store.message_usage("user_month", Period::of(february_start)).await.unwrap(), 2);

        // December rolls into the next year.
        let december = Utc.with_ymd_and_hms(2026, 12, 15, 12, 0, 0).unwrap();
        for _ in 0..3 {
            quota::reserve(&db.store, &config, &flags, "user_month", december).await.unwrap().unwrap();
        }
        let exceeded = quota::reserve(&db.store, &config, &flags, "user_month", december).await.unwrap().unwrap_err();
        assert_eq!(exceeded.retry_after, (Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap() - december).num_seconds());
    }
}

#[tokio::test]
async fn the_tier_comes_from_flags_and_the_user_flag_wins() {
    for backend in BACKENDS {
        let db = database(backend).await;
        let store = &db.store;
        let config = QuotaConfig { free: 1, paid: 2 };
        store.set_feature_flag("chat_rate_limit_tier", FlagScope::Global, json!("paid")).await.unwrap();
        store.set_feature_flag("chat_rate_limit_tier", FlagScope::User("user_free"), json!("free")).await.unwrap();
        store.set_feature_flag("chat_rate_limit_tier", FlagScope::User("user_vip"), json!("unlimited")).await.unwrap();

        let flags = |user: &'static str| async move { store.feature_flags(user).await.unwrap() };
        assert_eq!(limit_for(&flags("user_plain").await, &config), 2, "{backend:?}: global tier");
        assert_eq!(limit_for(&flags("user_free").await, &config), 1, "{backend:?}: the user's flag wins");
        assert_eq!(limit_for(&flags("user_vip").await, &config), UNLIMITED);

        let now = Utc::now();
        let free = flags("user_free").await;
        assert!(quota::reserve(store, &config, &free, "user_free", now).await.unwrap().is_ok());
        let exceeded = quota::reserve(store, &config, &free, "user_free", now).await.unwrap().unwrap_err();
        assert_eq!(exceeded.limit, 1);
        let paid = flags("user_plain").await;
        for _ in 0..2 {
            assert!(quota::reserve(store, &config, &paid, "user_plain", now).await.unwrap().is_ok());
        }
        assert!(quota::reserve(store, &config, &paid, "user_plain", now).await.unwrap().is_err());

        // Changing a flag replaces it.
        store.set_feature_flag("chat_rate_limit_tier", FlagScope::User("user_free"), json!("paid")).await.unwrap();
        assert_eq!(limit_for(&flags("user_free").await, &config), 2, "{backend:?}");
    }
}

#[tokio::test]
async fn the_chat_gate_follows_the_flags() {
    for backend in BACKENDS {
        let db = database(backend).await;
        let store = &db.store;
        assert!(store.feature_flags("user_a").await.unwrap().chat_allowed(), "{backend:?}: open by default");
        store.set_feature_flag("chat_beta_period", FlagScope::Global, json!(true)).await.unwrap();
        store.set_feature_flag("chat_beta_access", FlagScope::User("user_beta"), json!(true)).await.unwrap();
        assert!(!store.feature_flags("user_a").await.unwrap().chat_allowed(), "{backend:?}");
        assert!(store.feature_flags("user_beta").await.unwrap().chat_allowed(), "{backend:?}");
        store.set_feature_flag("chat_enabled", FlagScope::Global, json!(false)).await.unwrap();
        assert!(!store.feature_flags("user_beta").await.unwrap().chat_allowed(), "{backend:?}");
        store.set_feature_flag("chat_enabled", FlagScope::User("user_beta"), json!(true)).await.unwrap();
        assert!(store.feature_flags("user_beta").await.unwrap().chat_allowed(), "{backend:?}");
    }
}
