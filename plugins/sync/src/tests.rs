//! The sync tools run natively against a scripted host: their schemas are the original service's,
//! and Garmin's feature flag and the hourly limit are checked before any request.

use amakaflow_tool_sdk::http::Method;
use amakaflow_tool_sdk::testing::{Answer, MockHost, assert_schemas_match};
use serde_json::json;

use super::plugin;

fn host() -> MockHost {
    MockHost::new().config("garmin_url", "http://garmin.test").config("strava_url", "http://strava.test")
}

#[test]
fn derived_schemas_are_the_original_ones() {
    assert_schemas_match(&plugin(), concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas"));
}

#[test]
fn garmin_sync_is_only_for_users_with_the_beta_flag() {
    let host = host().flag("chat_functions_enabled", json!(["strava_sync"]));
    let err = host.call(&plugin(), "sync_garmin", json!({"workout_ids": ["w1"]})).unwrap_err();
    assert_eq!(err.code, "feature_disabled");
    assert!(host.requests().is_empty());
}

#[test]
fn garmin_sync_refuses_bad_ids_and_stops_at_the_hourly_limit() {
    let host = host()
        .flag("chat_functions_enabled", json!(["garmin_sync"]))
        .config("sync_limit_per_hour", "2")
        .rate_limit_used("sync_garmin", 1)
        .expect(Method::Post, "http://garmin.test/garmin/sync", Answer::json(200, json!({"synced_count": 2})));
    let err = host.call(&plugin(), "sync_garmin", json!({"workout_ids": ["w1", "../x"]})).unwrap_err();
    assert_eq!(err.message, "Invalid ID format in workout_ids");

    let text = host.call(&plugin(), "sync_garmin", json!({"workout_ids": ["w1", "w2"]})).unwrap();
    assert_eq!(text, r#"{"success": true, "message": "Synced 2 workout(s) from Garmin", "synced_count": 2}"#);
    assert_eq!(host.requests()[0].json(), json!({"workout_ids": ["w1", "w2"]}));

    let err = host.call(&plugin(), "sync_garmin", json!({"workout_ids": ["w1"]})).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("rate_limit_exceeded", "Garmin sync is limited to 2 times per hour. You've used 2/2. Please try again later.")
    );
    assert_eq!(host.requests().len(), 1);
}

#[test]
fn strava_activities_cap_the_limit_and_list_distance_and_minutes() {
    let activities = json!([{"name": "Morning Run", "type": "Run", "start_date": "2026-03-01T07:00:00Z",
                             "distance": 8012.5, "elapsed_time": 2710}]);
    let host = host().user("user_9").expect(
        Method::Get,
        "http://strava.test/strava/activities?limit=30&userId=user_9",
        Answer::json(200, activities),
    );
    let text = host.call(&plugin(), "get_strava_activities", json!({"limit": 99})).unwrap();
    assert_eq!(text, "Found 1 recent Strava activity(ies):\n1. Morning Run (Run) - 2026-03-01 - 8.0km, 45min");
}
