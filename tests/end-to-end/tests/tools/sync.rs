//! The sync plugin: sync_strava and get_strava_activities (Strava sync service), sync_garmin (gated
//! by `garmin_sync` in the `chat_functions_enabled` flag), and the limit of 3 syncs per user and hour.

use end_to_end::clock_window::{Window, within_one_window};
use serde_json::json;
use store::Backend;

use crate::support::*;

#[tokio::test]
async fn sync_strava_posts_days_back_capped_at_30_and_lists_the_activities() {
    let t = Tools::start().await;
    let text = t.ok("sync_strava", json!({"days_back": 90})).await;
    assert_eq!(
        text,
        "Synced 2 activity(ies) from Strava:\n- Morning Run (Run) - 8.0km, 45min\n- Evening Ride (Ride) - 25.4km, 60min"
    );
    let request = only_request(&t.strava);
    assert_request(&request, "POST", "/strava/sync", None);
    assert_eq!(request.json(), json!({"days_back": 30}));

    t.strava.clear_requests();
    t.strava.set_activities(vec![]);
    assert_eq!(t.ok("sync_strava", json!({})).await, "No new activities found to sync from Strava.");
    assert_eq!(only_request(&t.strava).json(), json!({"days_back": 7}));
}

#[tokio::test]
async fn sync_strava_lists_ten_activities_and_counts_the_rest() {
    let t = Tools::start().await;
    t.strava.set_activities((1..=12).map(|i| json!({"name": format!("Walk {i}"), "type": "Walk"})).collect());
    let text = t.ok("sync_strava", json!({"days_back": 3})).await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12);
    assert_eq!(lines[0], "Synced 12 activity(ies) from Strava:");
    assert_eq!(lines[10], "- Walk 10 (Walk)");
    assert_eq!(lines[11], "... and 2 more");
}

#[tokio::test]
async fn get_strava_activities_asks_for_the_users_activities() {
    let t = Tools::start().await;
    let text = t.ok("get_strava_activities", json!({"limit": 50})).await;
    assert_eq!(
        text,
        "Found 2 recent Strava activity(ies):\n1. Morning Run (Run) - 2026-02-20 - 8.0km, 45min\n2. Evening Ride (Ride) - 2026-02-21 - 25.4km, 60min"
    );
    assert_request(&only_request(&t.strava), "GET", "/strava/activities", Some(&format!("limit=30&userId={USER}")));

    t.strava.set_activities(vec![]);
    assert_eq!(t.ok("get_strava_activities", json!({})).await, "No recent Strava activities found.");
    assert_eq!(t.strava.requests()[1].query.as_deref(), Some(format!("limit=10&userId={USER}").as_str()));
}

#[tokio::test]
async fn sync_garmin_is_for_users_with_the_garmin_flag() {
    let t = Tools::start().await;
    let message = t.fails("sync_garmin", json!({"workout_ids": ["w-legs"]}), "feature_disabled").await;
    assert_eq!(message, "Garmin sync is currently in beta. Please check back later.");
    assert!(t.garmin.requests().is_empty());

    t.enable_garmin(USER).await;
    let text = t.ok("sync_garmin", json!({"workout_ids": ["w-legs", "w_run-2"]})).await;
    assert_eq!(text, r#"{"success": true, "message": "Synced 2 workout(s) from Garmin", "synced_count": 2}"#);
    let request = only_request(&t.garmin);
    assert_request(&request, "POST", "/garmin/sync", None);
    assert_eq!(request.json(), json!({"workout_ids": ["w-legs", "w_run-2"]}));

    let message = t.fails("sync_garmin", json!({"workout_ids": ["w-legs", "../etc/passwd"]}), "validation_error").await;
    assert_eq!(message, "Invalid ID format in workout_ids");
    let message = t.fails("sync_garmin", json!({"workout_ids": []}), "validation_error").await;
    assert_eq!(message, "Missing required field: workout_ids");
    // Still off for everyone else.
    let other = t.call_as(OTHER_USER, "sync_garmin", json!({"workout_ids": ["w"]})).await;
    fails(&other, "sync_garmin", "feature_disabled");
}

/// The fourth sync of an hour is refused, per user and per service, and sends nothing.
async fn the_fourth_sync_in_an_hour_is_refused(backend: Backend) {
    let t = Tools::start_on(backend).await;
    t.enable_garmin(USER).await;
    for _ in 0..3 {
        t.ok("sync_strava", json!({})).await;
    }
    let message = t.fails("sync_strava", json!({}), "rate_limit_exceeded").await;
    assert_eq!(message, "Strava sync is limited to 3 times per hour. You've used 3/3. Please try again later.");
    assert_eq!(t.strava.requests().len(), 3);

    // Listing activities is not a sync; Garmin and other users have their own counts.
    t.ok("get_strava_activities", json!({})).await;
    let other = t.call_as(OTHER_USER, "sync_strava", json!({})).await;
    ok(&other, "sync_strava");
    for _ in 0..3 {
        t.ok("sync_garmin", json!({"workout_ids": ["w"]})).await;
    }
    let message = t.fails("sync_garmin", json!({"workout_ids": ["w"]}), "rate_limit_exceeded").await;
    assert_eq!(message, "Garmin sync is limited to 3 times per hour. You've used 3/3. Please try again later.");
    assert_eq!(t.garmin.requests().len(), 3);
}

/// Concurrent syncs never exceed the limit.
async fn concurrent_syncs_stop_at_the_limit(backend: Backend) {
    let t = Tools::start_on(backend).await;
    let calls = (0..8).map(|_| t.call("sync_strava", json!({})));
    let outcomes = futures::future::join_all(calls).await;
    let allowed = outcomes.iter().filter(|o| o.result.is_ok()).count();
    assert_eq!(allowed, 3);
    assert!(outcomes.iter().filter_map(|o| o.result.as_ref().err()).all(|e| e.code == "rate_limit_exceeded"));
    assert_eq!(t.strava.requests().len(), 3);
}

#[tokio::test]
async fn the_fourth_sync_in_an_hour_is_refused_on_sqlite() {
    within_one_window(Window::Hour, || the_fourth_sync_in_an_hour_is_refused(Backend::Sqlite)).await
}

#[tokio::test]
async fn the_fourth_sync_in_an_hour_is_refused_on_postgres() {
    within_one_window(Window::Hour, || the_fourth_sync_in_an_hour_is_refused(Backend::Postgres)).await
}

#[tokio::test]
async fn concurrent_syncs_stop_at_the_limit_on_sqlite() {
    within_one_window(Window::Hour, || concurrent_syncs_stop_at_the_limit(Backend::Sqlite)).await
}

#[tokio::test]
async fn concurrent_syncs_stop_at_the_limit_on_postgres() {
    within_one_window(Window::Hour, || concurrent_syncs_stop_at_the_limit(Backend::Postgres)).await
}
