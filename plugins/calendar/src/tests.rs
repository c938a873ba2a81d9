//! The calendar tools run natively against a scripted host: their schemas are the original
//! service's, and cancelling and rescheduling are followed to the requests they make.

use amakaflow_tool_sdk::http::Method;
use amakaflow_tool_sdk::testing::{Answer, MockHost, assert_schemas_match};
use serde_json::json;

use super::plugin;

fn host() -> MockHost {
    MockHost::new().config("calendar_url", "http://calendar.test")
}

#[test]
fn derived_schemas_are_the_original_ones() {
    assert_schemas_match(&plugin(), concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas"));
}

#[test]
fn cancelling_needs_confirm_and_names_the_workout_cancelled() {
    let host = host();
    let err =
        host.call(&plugin(), "cancel_scheduled_workout", json!({"event_id": "e1", "confirm": false})).unwrap_err();
    assert_eq!(err.code, "confirmation_required");
    assert!(host.requests().is_empty());

    let host = host
        .expect(Method::Get, "http://calendar.test/calendar/e1", Answer::json(200, json!({"workout_title": "Legs"})))
        .expect(Method::Delete, "http://calendar.test/calendar/e1", Answer::text(204, ""));
    let text = host.call(&plugin(), "cancel_scheduled_workout", json!({"event_id": "e1", "confirm": true})).unwrap();
    assert_eq!(text, r#"{"success": true, "message": "Cancelled: Legs", "event_id": "e1"}"#);
    host.assert_all_answered();
}

#[test]
fn a_title_that_cannot_be_read_does_not_stop_a_cancellation() {
    let host = host().expect(Method::Get, "http://calendar.test/calendar/e1", Answer::text(500, "boom")).expect(
        Method::Delete,
        "http://calendar.test/calendar/e1",
        Answer::text(404, ""),
    );
    let err = host.call(&plugin(), "cancel_scheduled_workout", json!({"event_id": "e1", "confirm": true})).unwrap_err();
    assert_eq!(err.message, "The requested item was not found.");
    host.assert_all_answered();
}

#[test]
fn rescheduling_sends_only_what_changes() {
    let host = host();
    let err = host.call(&plugin(), "reschedule_workout", json!({"event_id": "e1", "new_date": ""})).unwrap_err();
    assert_eq!(err.message, "At least one of new_date or new_time must be provided.");

    let host = host.expect(Method::Put, "http://calendar.test/calendar/e1", Answer::json(200, json!({})));
    let text = host.call(&plugin(), "reschedule_workout", json!({"event_id": "e1", "new_time": "07:30"})).unwrap();
    assert_eq!(text, r#"{"success": true, "message": "Workout rescheduled at 07:30", "event_id": "e1"}"#);
    assert_eq!(host.requests()[0].json(), json!({"scheduled_time": "07:30"}));
}

#[test]
fn scheduling_sends_a_missing_time_as_null() {
    let host = host().expect(Method::Post, "http://calendar.test/calendar", Answer::json(201, json!({"id": "e9"})));
    let text = host
        .call(
            &plugin(),
            "add_workout_to_calendar",
            json!({"workout_id": "w1", "date": "2026-03-02", "recurrence": "weekly"}),
        )
        .unwrap();
    assert_eq!(text, "Added workout to calendar on 2026-03-02");
    assert_eq!(
        host.requests()[0].json(),
        json!({"workout_id": "w1", "scheduled_date": "2026-03-02", "scheduled_time": null})
    );
}
