//! The in-memory world a downstream stand-in answers from (a user's workouts, calendar events,
//! completions, Strava activities), which tests seed and requests change, and what every service's
//! routes share to read a request and shape an answer the way the FastAPI services do.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::recording_server::RecordedRequest;

/// The data of one stand-in.
#[derive(Default)]
pub(super) struct World {
    /// mapper: workouts (each with `id` and `profile_id`); calendar: events (with `user_id`).
    pub items: Vec<Value>,
    /// mapper: completions (with `user_id`); strava: activities.
    pub records: Vec<Value>,
    next_id: u64,
}

impl World {
    /// A fresh UUID-shaped id, counting up from `…000000000001`.
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("00000000-0000-4000-8000-{:012}", self.next_id)
    }
}

/// A route's status and JSON body.
pub(super) type Answer = (StatusCode, Value);

/// FastAPI's 404 for an item the caller does not have.
pub(super) fn not_found(message: &str) -> Answer {
    (StatusCode::NOT_FOUND, json!({"detail": {"message": message}}))
}

/// FastAPI's 404 for a route that does not exist.
pub(super) fn no_route() -> Answer {
    (StatusCode::NOT_FOUND, json!({"detail": "Not Found"}))
}

/// The caller's id, as the host forwards it (`X-User-Id`).
pub(super) fn caller(request: &RecordedRequest) -> String {
    request.header("x-user-id").unwrap_or("").to_string()
}

/// `value` as an object, replacing anything else with an empty one.
pub(super) fn object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = json!({});
    }
    value.as_object_mut().expect("an object")
}
