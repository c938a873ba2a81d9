//! The calendar plugin: add_workout_to_calendar, get_calendar_events, reschedule_workout,
//! cancel_scheduled_workout (with its confirmation rule); get_calendar_events also in its Python
//! port (`plugins/examples/calendar-events-py`).

use end_to_end::tool_world::{Patience, Ports};
use serde_json::json;
use stand_ins::downstream::Reply;
use store::Backend;

use crate::support::*;

#[tokio::test]
async fn add_workout_to_calendar_posts_the_event_and_confirms_in_text() {
    let t = Tools::start().await;
    let text = t
        .ok(
            "add_workout_to_calendar",
            json!({"workout_id": "w-legs", "date": "2026-03-02", "time": "06:30", "recurrence": "weekly"}),
        )
        .await;
    assert_eq!(text, "Added workout to calendar on 2026-03-02 at 06:30");
    let request = only_request(&t.calendar);
    assert_request(&request, "POST", "/calendar", None);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({"workout_id": "w-legs", "scheduled_date": "2026-03-02", "scheduled_time": "06:30"})
    );

    t.calendar.clear_requests();
    let text = t.ok("add_workout_to_calendar", json!({"workout_id": "w-legs", "date": "2026-03-03"})).await;
    assert_eq!(text, "Added workout to calendar on 2026-03-03");
    assert_eq!(
        only_request(&t.calendar).json(),
        json!({"workout_id": "w-legs", "scheduled_date": "2026-03-03", "scheduled_time": null})
    );

    let message =
        t.fails("add_workout_to_calendar", json!({"workout_id": "", "date": "2026-03-03"}), "validation_error").await;
    assert_eq!(message, "Missing required fields: workout_id and date are required.");
    t.fails("add_workout_to_calendar", json!({"workout_id": "w"}), "invalid_arguments").await;
    assert_eq!(t.calendar.requests().len(), 1, "refused calls send nothing");
}

#[tokio::test]
async fn get_calendar_events_lists_the_users_events_in_the_range() {
    get_calendar_events_lists_the_users_events_in_the_range_in(Ports::Rust).await
}

#[tokio::test]
async fn get_calendar_events_ported_to_python_lists_the_same_events() {
    get_calendar_events_lists_the_users_events_in_the_range_in(Ports::PythonAndJs).await
}

async fn get_calendar_events_lists_the_users_events_in_the_range_in(ports: Ports) {
    let t = Tools::start_ports(Backend::Sqlite, Patience::ANSWERING_SERVICES, ports).await;
    t.calendar.add_event(
        USER,
        json!({"id": "evt-1", "title": "Leg Day", "scheduled_date": "2026-03-02", "scheduled_time": "06:30"}),
    );
    t.calendar.add_event(USER, json!({"id": "evt-2", "workout_title": "Run", "scheduled_date": "2026-03-04"}));
    t.calendar.add_event(USER, json!({"id": "evt-3", "title": "Later", "scheduled_date": "2026-04-10"}));
    t.calendar.add_event(OTHER_USER, json!({"id": "evt-9", "title": "Not mine", "scheduled_date": "2026-03-03"}));

    let text = t.ok("get_calendar_events", json!({"start_date": "2026-03-01", "end_date": "2026-03-07"})).await;
    assert_eq!(
        text,
        "Found 2 scheduled workout(s):\n1. Leg Day - 2026-03-02 at 06:30 (ID: evt-1)\n2. Run - 2026-03-04 (ID: evt-2)"
    );
    assert_request(&only_request(&t.calendar), "GET", "/calendar", Some("start=2026-03-01&end=2026-03-07"));

    let text = t.ok("get_calendar_events", json!({"start_date": "2026-05-01", "end_date": "2026-05-02"})).await;
    assert_eq!(text, "No workouts scheduled between 2026-05-01 and 2026-05-02.");
    let message =
        t.fails("get_calendar_events", json!({"start_date": "", "end_date": "2026-05-02"}), "validation_error").await;
    assert_eq!(message, "Missing required fields: start_date and end_date are required.");
}

#[tokio::test]
async fn reschedule_workout_puts_the_new_date_and_time() {
    let t = Tools::start().await;
    t.calendar.add_event(USER, json!({"id": "evt-1", "title": "Leg Day", "scheduled_date": "2026-03-02"}));
    let text =
        t.ok("reschedule_workout", json!({"event_id": "evt-1", "new_date": "2026-03-05", "new_time": "07:00"})).await;
    assert_eq!(
        text,
        r#"{"success": true, "message": "Workout rescheduled to 2026-03-05 at 07:00", "event_id": "evt-1"}"#
    );
    let request = only_request(&t.calendar);
    assert_request(&request, "PUT", "/calendar/evt-1", None);
    assert_eq!(request.json(), json!({"scheduled_date": "2026-03-05", "scheduled_time": "07:00"}));

    t.calendar.clear_requests();
    let text = t.ok("reschedule_workout", json!({"event_id": "evt-1", "new_time": "18:15"})).await;
    assert_eq!(text, r#"{"success": true, "message": "Workout rescheduled at 18:15", "event_id": "evt-1"}"#);
    assert_eq!(only_request(&t.calendar).json(), json!({"scheduled_time": "18:15"}));

    let message = t.fails("reschedule_workout", json!({"event_id": "evt-1"}), "validation_error").await;
    assert_eq!(message, "At least one of new_date or new_time must be provided.");
    for bad in ["../evt-1", "evt 1", "evt/1"] {
        let message =
            t.fails("reschedule_workout", json!({"event_id": bad, "new_date": "2026-03-05"}), "validation_error").await;
        assert_eq!(message, "Invalid event_id format");
    }
    assert_eq!(t.calendar.requests().len(), 1, "an invalid id never reaches the service");
}

#[tokio::test]
async fn cancel_scheduled_workout_needs_confirm_true() {
    let t = Tools::start().await;
    t.calendar.add_event(USER, json!({"id": "evt-1", "title": "Leg Day", "scheduled_date": "2026-03-02"}));
    let message = t
        .fails("cancel_scheduled_workout", json!({"event_id": "evt-1", "confirm": false}), "confirmation_required")
        .await;
    assert_eq!(message, "Please confirm cancellation by setting confirm to true.");
    // Without `confirm` at all the call does not even reach the plugin (the schema requires it).
    t.fails("cancel_scheduled_workout", json!({"event_id": "evt-1"}), "invalid_arguments").await;
    assert!(t.calendar.requests().is_empty(), "nothing is read or cancelled without confirmation");
    assert_eq!(t.calendar.items().len(), 1);

    let text = t.ok("cancel_scheduled_workout", json!({"event_id": "evt-1", "confirm": true})).await;
    assert_eq!(text, r#"{"success": true, "message": "Cancelled: Leg Day", "event_id": "evt-1"}"#);
    let requests = t.calendar.requests();
    assert_eq!(requests.len(), 2);
    assert_request(&requests[0], "GET", "/calendar/evt-1", None);
    assert_request(&requests[1], "DELETE", "/calendar/evt-1", None);
    assert!(t.calendar.items().is_empty());
}

#[tokio::test]
async fn cancel_names_the_workout_generically_when_the_event_cannot_be_read() {
    let t = Tools::start().await;
    t.calendar.add_event(USER, json!({"id": "evt-1", "title": "Leg Day", "scheduled_date": "2026-03-02"}));
    t.calendar.script("GET", "/calendar/evt-1", Reply::Status(500));
    let text = t.ok("cancel_scheduled_workout", json!({"event_id": "evt-1", "confirm": true})).await;
    assert_eq!(text, r#"{"success": true, "message": "Cancelled: Workout", "event_id": "evt-1"}"#);
    assert!(t.calendar.items().is_empty());
}
