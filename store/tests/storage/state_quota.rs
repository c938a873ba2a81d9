//! The tool-state quota and the periodic purge on both backends: a put that would pass a
//! (plugin, user)'s key or byte cap is refused whole, overwrites count their new size, expired rows
//! do not count, concurrent puts never pass the cap together; the purge removes expired state and
//! the counters of past hours, nothing else.

use chrono::{Duration, TimeZone, Utc};
use store::testing::BACKENDS;
use store::{StatePut, StateQuota, StateUsage};

#[tokio::test]
async fn a_put_past_the_quota_is_refused_whole_and_others_are_unaffected() {
    for backend in BACKENDS {
        let db = super::database(backend).await;
        let s = &db.store;
        let later = Utc::now() + Duration::minutes(15);
        // Three keys or 30 bytes (key + value), whichever comes first.
        let quota = StateQuota { max_keys: 3, max_bytes: 30 };
        let put = |user: &'static str, key: &'static str, value: &'static str| async move {
            s.tool_state_put("flood", user, key, value, later, quota).await.unwrap()
        };
        assert_eq!(put("user_a", "k1", "12345678").await, StatePut::Stored, "{backend:?}");
        assert_eq!(put("user_a", "k2", "12345678").await, StatePut::Stored, "{backend:?}");
        // 20 bytes used; 12 more would make 32.
        assert_eq!(put("user_a", "k3", "1234567890").await, StatePut::QuotaExceeded, "{backend:?}: bytes");
        assert_eq!(s.tool_state_get("flood", "user_a", "k3", Utc::now()).await.unwrap(), None, "{backend:?}");
        assert_eq!(put("user_a", "k3", "12345678").await, StatePut::Stored, "{backend:?}: exactly 30 bytes");
        assert_eq!(put("user_a", "k4", "").await, StatePut::QuotaExceeded, "{backend:?}: keys");
        // An overwrite counts its new size instead of the old one: shrinking and keeping fit.
        assert_eq!(put("user_a", "k1", "1").await, StatePut::Stored, "{backend:?}");
        assert_eq!(put("user_a", "k1", "123456789").await, StatePut::QuotaExceeded, "{backend:?}");
        assert_eq!(
            s.tool_state_get("flood", "user_a", "k1", Utc::now()).await.unwrap().as_deref(),
            Some("1"),
            "{backend:?}: a refused overwrite leaves the old value"
        );
        assert_eq!(
            s.tool_state_usage("flood", "user_a").await.unwrap(),
            StateUsage { keys: 3, bytes: 23 },
            "{backend:?}"
        );
        // Another user, and another plugin of the same user, have their own quota.
        assert_eq!(put("user_b", "k1", "12345678").await, StatePut::Stored, "{backend:?}");
        let other_plugin = s.tool_state_put("mapper", "user_a", "k1", "12345678", later, quota).await.unwrap();
        assert_eq!(other_plugin, StatePut::Stored, "{backend:?}");
    }
}

#[tokio::test]
async fn expired_values_do_not_count() {
    for backend in BACKENDS {
        let db = super::database(backend).await;
        let s = &db.store;
        let quota = StateQuota { max_keys: 2, max_bytes: 1 << 20 };
        let past = Utc::now() - Duration::seconds(1);
        let later = Utc::now() + Duration::minutes(15);
        for key in ["old1", "old2"] {
            assert_eq!(s.tool_state_put("p", "u", key, "x", past, quota).await.unwrap(), StatePut::Stored);
        }
        for key in ["new1", "new2"] {
            let put = s.tool_state_put("p", "u", key, "x", later, quota).await.unwrap();
            assert_eq!(put, StatePut::Stored, "{backend:?}: {key}");
        }
        assert_eq!(s.tool_state_put("p", "u", "new3", "x", later, quota).await.unwrap(), StatePut::QuotaExceeded);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_of_one_user_never_pass_the_quota_together() {
    for backend in BACKENDS {
        let db = super::database(backend).await;
        let later = Utc::now() + Duration::minutes(15);
        let quota = StateQuota { max_keys: 5, max_bytes: 1 << 20 };
        let puts: Vec<_> = (0..24)
            .map(|i| {
                let store = db.store.clone();
                tokio::spawn(async move {
                    store.tool_state_put("flood", "user_a", &format!("key{i}"), "v", later, quota).await.unwrap()
                })
            })
            .collect();
        let results: Vec<_> = futures::future::join_all(puts).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(results.iter().filter(|r| **r == StatePut::Stored).count(), 5, "{backend:?}");
        assert_eq!(db.store.tool_state_usage("flood", "user_a").await.unwrap().keys, 5, "{backend:?}");
    }
}

#[tokio::test]
async fn the_purge_removes_expired_state_and_past_rate_limit_windows_only() {
    for backend in BACKENDS {
        let db = super::database(backend).await;
        let s = &db.store;
        let quota = StateQuota { max_keys: 10, max_bytes: 1 << 20 };
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 14, 30, 0).unwrap();
        let put = |key: &'static str, expires| async move {
            assert_eq!(s.tool_state_put("p", "u", key, "x", expires, quota).await.unwrap(), StatePut::Stored);
        };
        put("expired", now - Duration::seconds(1)).await;
        put("live", now + Duration::seconds(1)).await;
        for at in [now - Duration::hours(2), now - Duration::minutes(31), now, now + Duration::minutes(29)] {
            assert!(s.hit_function_limit("u", "sync_strava", 3, at).await.unwrap().allowed);
        }

        assert_eq!(s.tool_state_purge_expired(now).await.unwrap(), 1, "{backend:?}");
        // The 12:30 and 13:59 windows are past; 14:00 (both hits) is the current one.
        assert_eq!(s.function_limits_purge_stale(now).await.unwrap(), 2, "{backend:?}");
        assert_eq!(s.tool_state_purge_expired(now).await.unwrap(), 0, "{backend:?}");
        assert_eq!(s.function_limits_purge_stale(now).await.unwrap(), 0, "{backend:?}");

        assert_eq!(s.tool_state_get("p", "u", "live", now).await.unwrap().as_deref(), Some("x"), "{backend:?}");
        let current = s.hit_function_limit("u", "sync_strava", 3, now).await.unwrap();
        assert_eq!(current.count, 3, "{backend:?}: the current window keeps its count");
    }
}
