//! The Strava and Garmin sync services' routes as the stand-ins answer them: a sync reporting the
//! activities (Strava) or the workouts pushed (Garmin), and the recent Strava activities.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::world::{Answer, World, no_route};
use crate::recording_server::RecordedRequest;

/// The activities a fresh Strava stand-in reports.
pub(super) fn default_strava_activities() -> Vec<Value> {
    vec![
        json!({"id": 9001, "name": "Morning Run", "type": "Run", "start_date": "2026-02-20T06:30:00Z", "distance": 8042.5, "elapsed_time": 2730, "distance_km": 8.0425, "duration_minutes": 45}),
        json!({"id": 9002, "name": "Evening Ride", "type": "Ride", "start_date": "2026-02-21T18:05:00Z", "distance": 25400.0, "elapsed_time": 3600, "distance_km": 25.4, "duration_minutes": 60}),
    ]
}

/// The Strava sync service's routes.
pub(super) fn strava(w: &World, request: &RecordedRequest) -> Answer {
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/strava/sync") => {
            (StatusCode::OK, json!({"success": true, "synced_count": w.records.len(), "activities": w.records}))
        }
        ("GET", "/strava/activities") => {
            let limit = request.query_param("limit").and_then(|v| v.parse().ok()).unwrap_or(30usize);
            (StatusCode::OK, Value::Array(w.records.iter().take(limit).cloned().collect()))
        }
        _ => no_route(),
    }
}

/// The Garmin sync service's routes.
pub(super) fn garmin(request: &RecordedRequest) -> Answer {
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/garmin/sync") => {
            let count = request.json().get("workout_ids").and_then(Value::as_array).map_or(0, Vec::len);
            (StatusCode::OK, json!({"success": true, "synced_count": count}))
        }
        _ => no_route(),
    }
}
