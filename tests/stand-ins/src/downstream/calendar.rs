//! calendar-api's routes as the stand-in answers them: scheduling, listing a date range, reading,
//! moving and cancelling the caller's events.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::world::{Answer, World, caller, no_route, not_found};
use crate::recording_server::RecordedRequest;

/// calendar-api's routes.
pub(super) fn answer(w: &mut World, request: &RecordedRequest) -> Answer {
    let user = caller(request);
    let body = request.json();
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let mine = |item: &Value, id: &str| item["id"] == json!(id) && item["user_id"] == json!(user);
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["calendar"]) => {
            let id = w.new_id();
            let event = json!({
                "id": id, "user_id": user, "workout_id": body["workout_id"], "title": "Scheduled workout",
                "scheduled_date": body["scheduled_date"], "scheduled_time": body.get("scheduled_time").cloned().unwrap_or(Value::Null),
                "status": "scheduled",
            });
            w.items.push(event.clone());
            (StatusCode::CREATED, event)
        }
        ("GET", ["calendar"]) => {
            let (start, end) =
                (request.query_param("start").unwrap_or_default(), request.query_param("end").unwrap_or_default());
            let events: Vec<Value> = w
                .items
                .iter()
                .filter(|e| e["user_id"] == json!(user))
                .filter(|e| e["scheduled_date"].as_str().is_some_and(|d| d >= start.as_str() && d <= end.as_str()))
                .cloned()
                .collect();
            (StatusCode::OK, json!({"events": events}))
        }
        ("GET", ["calendar", id]) => match w.items.iter().find(|e| mine(e, id)) {
            Some(event) => (StatusCode::OK, event.clone()),
            None => not_found("Event not found"),
        },
        ("PUT", ["calendar", id]) => match w.items.iter_mut().find(|e| mine(e, id)) {
            Some(event) => {
                for key in ["scheduled_date", "scheduled_time"] {
                    if let Some(v) = body.get(key) {
                        event[key] = v.clone();
                    }
                }
                (StatusCode::OK, event.clone())
            }
            None => not_found("Event not found"),
        },
        ("DELETE", ["calendar", id]) => match w.items.iter().position(|e| mine(e, id)) {
            Some(at) => {
                w.items.remove(at);
                (StatusCode::OK, json!({"success": true, "message": "Event deleted"}))
            }
            None => not_found("Event not found"),
        },
        _ => no_route(),
    }
}
