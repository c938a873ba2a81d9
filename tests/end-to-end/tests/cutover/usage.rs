//! The monthly quota on the original schema: a month's usage starts from the original's
//! `ai_request_limits` sum for that month, stays exact under 200 concurrent reserves, and the
//! original's counter follows every admitted message and refund (see `store::original_usage`).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use end_to_end::clock_window::{Window, within_one_window};
use end_to_end::quota_race::reserve_many;
use host::config::QuotaConfig;
use host::quota;
use sqlx::PgPool;
use store::Period;

use super::*;

const LIMITS: QuotaConfig = QuotaConfig { free: 50, paid: 500 };

/// The first day of `now`'s month and the last day of the month before, for rows the original wrote.
fn days(now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap();
    (first, first.pred_opt().unwrap())
}

async fn counted(pool: &PgPool, user: &str, day: NaiveDate, count: i32) {
    sqlx::query("INSERT INTO ai_request_limits (user_id, request_date, request_count) VALUES ($1, $2, $3)")
        .bind(user)
        .bind(day)
        .bind(count)
        .execute(pool)
        .await
        .unwrap();
}

/// The original's monthly usage (`SUM(request_count)` since the first of the month).
async fn original_sum(pool: &PgPool, user: &str, first: NaiveDate) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(SUM(request_count), 0)::bigint FROM ai_request_limits WHERE user_id = $1 AND request_date >= $2",
    )
    .bind(user)
    .bind(first)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_month_starts_from_the_originals_usage_and_both_counters_move_together() {
    within_one_window(Window::Month, || async {
        let db = original().await;
        let pool = original_client(&db).await;
        assert!(db.store.original_tables().ai_request_limits, "detected at start-up");
        let now = Utc::now();
        let (first, last_month) = days(now);
        let user = "user_carry_1";
        sign_up(&pool, user).await;
        counted(&pool, user, last_month, 40).await; // another month: not carried
        counted(&pool, user, first, 10).await;
        counted(&pool, user, first.succ_opt().unwrap(), 12).await;
        let period = Period::of(now);
        assert_eq!(db.store.message_usage(user, period).await.unwrap(), 22, "before the first message here");

        let flags = db.store.feature_flags(user).await.unwrap();
        let reservation = quota::reserve(&db.store, &LIMITS, &flags, user, now).await.unwrap().expect("admitted");
        assert_eq!(reservation.usage, 23);
        assert_eq!(db.store.message_usage(user, period).await.unwrap(), 23);
        assert_eq!(original_sum(&pool, user, first).await, 23, "the original's counter follows");

        reservation.refund(&db.store).await.unwrap();
        assert_eq!(db.store.message_usage(user, period).await.unwrap(), 22);
        assert_eq!(original_sum(&pool, user, first).await, 22, "and gives the unit back");

        // Another user the original never counted starts at zero.
        assert_eq!(db.store.message_usage("user_carry_new", period).await.unwrap(), 0);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_reserves_admit_exactly_the_limit_on_the_original_schema() {
    within_one_window(Window::Month, || async {
        let db = original().await;
        let pool = original_client(&db).await;
        let now = Utc::now();
        let (first, _) = days(now);
        let user = "user_carry_racer";
        sign_up(&pool, user).await;
        counted(&pool, user, first, 20).await;

        // 200 at once, every one of them possibly the month's first message here.
        let outcomes = reserve_many(&db.store, &LIMITS, user, 200, now).await;
        let mut admitted: Vec<i64> = outcomes.iter().filter_map(|o| o.as_ref().ok().map(|a| a.usage)).collect();
        admitted.sort_unstable();
        assert_eq!(admitted, (21..=50).collect::<Vec<_>>(), "each admitted reserve saw its own count");
        let rejected: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
        assert_eq!(rejected.len(), 170);
        assert!(rejected.iter().all(|r| (r.usage, r.limit) == (50, 50)), "{rejected:?}");
        assert_eq!(db.store.message_usage(user, Period::of(now)).await.unwrap(), 50);
        assert_eq!(original_sum(&pool, user, first).await, 50, "the mirror counted every admission once");
    })
    .await
}

#[tokio::test]
async fn a_user_already_over_the_limit_is_refused_without_a_row() {
    within_one_window(Window::Month, || async {
        let db = original().await;
        let pool = original_client(&db).await;
        let now = Utc::now();
        let (first, _) = days(now);
        sign_up(&pool, "user_carry_over").await;
        counted(&pool, "user_carry_over", first, 64).await; // Claude calls: a busy user can pass 50
        let flags = db.store.feature_flags("user_carry_over").await.unwrap();
        let refused = quota::reserve(&db.store, &LIMITS, &flags, "user_carry_over", now).await.unwrap().unwrap_err();
        assert_eq!((refused.usage, refused.limit), (64, 50));
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chat_rate_limits").fetch_one(&pool).await.unwrap();
        assert_eq!(rows, 0, "nothing counted");
        assert_eq!(original_sum(&pool, "user_carry_over", first).await, 64);
    })
    .await
}

#[tokio::test]
async fn a_user_without_a_profile_is_still_counted_here() {
    within_one_window(Window::Month, || async {
        // API-key users need no profiles row; the original's counter cannot hold them (its foreign
        // key), which must never cost the user a turn.
        let db = original().await;
        let pool = original_client(&db).await;
        let now = Utc::now();
        let flags = db.store.feature_flags("user_no_profile").await.unwrap();
        let admitted = quota::reserve(&db.store, &LIMITS, &flags, "user_no_profile", now).await.unwrap();
        assert_eq!(admitted.expect("admitted").usage, 1);
        assert_eq!(db.store.message_usage("user_no_profile", Period::of(now)).await.unwrap(), 1);
        assert_eq!(original_sum(&pool, "user_no_profile", days(now).0).await, 0);
    })
    .await
}
