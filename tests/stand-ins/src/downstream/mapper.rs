//! mapper-api's routes as the stand-in answers them: the keyword search over the user's library,
//! saving, completing, reading, editing and exporting workouts, and periodization plans.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::world::{Answer, World, caller, no_route, not_found, object};
use crate::recording_server::RecordedRequest;

/// mapper-api's routes (`api/routers/workouts.py`, `completions.py`, `exports.py`, `programs.py`).
pub(super) fn answer(w: &mut World, request: &RecordedRequest) -> Answer {
    let user = caller(request);
    let body = request.json();
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["workouts", "search"]) => {
            let q = request.query_param("q").map(|q| q.to_lowercase()).unwrap_or_default();
            let limit = request.query_param("limit").and_then(|v| v.parse().ok()).unwrap_or(10usize);
            if q.is_empty() {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"detail": [{"loc": ["query", "q"], "msg": "Field required"}]}),
                );
            }
            let words: Vec<&str> = q.split_whitespace().collect();
            let results: Vec<Value> = w
                .items
                .iter()
                .filter(|item| item["profile_id"] == json!(user))
                .filter(|item| {
                    let text = format!(
                        "{} {}",
                        item["title"].as_str().unwrap_or(""),
                        item["description"].as_str().unwrap_or("")
                    )
                    .to_lowercase();
                    words.iter().any(|word| text.contains(word))
                })
                .take(limit)
                .map(|item| {
                    json!({
                        "workout_id": item["id"], "title": item["title"], "description": item["description"],
                        "sources": item.get("sources").cloned().unwrap_or(json!([])), "similarity_score": null,
                        "created_at": item["created_at"],
                    })
                })
                .collect();
            let count = results.len();
            (
                StatusCode::OK,
                json!({"success": true, "results": results, "count": count, "query": q, "search_type": "keyword",
                       "query_embedding_time_ms": null, "search_time_ms": 2}),
            )
        }
        ("POST", ["workouts", "save"]) => {
            let id = body.get("workout_id").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| w.new_id());
            let mut workout = body.get("workout_data").cloned().unwrap_or_else(|| body.clone());
            let fields = object(&mut workout);
            if let Some(title) = body.get("title") {
                fields.insert("title".into(), title.clone());
            }
            fields.insert("id".into(), json!(id));
            fields.insert("profile_id".into(), body.get("profile_id").cloned().unwrap_or(json!(user)));
            fields.insert("created_at".into(), json!("2026-02-01T10:00:00+00:00"));
            w.items.push(workout);
            (
                StatusCode::OK,
                json!({"success": true, "workout_id": id, "message": "Workout saved successfully", "is_update": false}),
            )
        }
        ("POST", ["workouts", "complete"]) => {
            let id = w.new_id();
            let mut record = body.clone();
            object(&mut record).insert("id".into(), json!(id));
            object(&mut record).insert("user_id".into(), json!(user));
            w.records.push(record);
            (
                StatusCode::OK,
                json!({"success": true, "id": id, "summary": {"duration_seconds": body.get("duration_minutes").and_then(Value::as_i64).map(|m| m * 60)}}),
            )
        }
        ("GET", ["workouts", "completions"]) => {
            let limit = request.query_param("limit").and_then(|v| v.parse().ok()).unwrap_or(50usize);
            let mine: Vec<Value> = w.records.iter().filter(|r| r["user_id"] == json!(user)).cloned().collect();
            let total = mine.len();
            (
                StatusCode::OK,
                json!({"success": true, "completions": mine.into_iter().take(limit).collect::<Vec<_>>(), "total": total}),
            )
        }
        ("GET", ["workouts", id]) => {
            match w.items.iter().find(|i| i["id"] == json!(id) && i["profile_id"] == json!(user)) {
                Some(workout) => (StatusCode::OK, json!({"success": true, "workout": workout})),
                None => not_found("Workout not found"),
            }
        }
        ("PATCH", ["workouts", id]) => {
            match w.items.iter().position(|i| i["id"] == json!(id) && i["profile_id"] == json!(user)) {
                Some(at) => {
                    let applied = body.get("operations").and_then(Value::as_array).map_or(0, Vec::len);
                    (StatusCode::OK, json!({"success": true, "workout": w.items[at], "changes_applied": applied}))
                }
                None => not_found("Workout not found"),
            }
        }
        ("GET", ["export", id]) => {
            let format = request.query_param("export_format").unwrap_or_default();
            match w.items.iter().find(|i| i["id"] == json!(id)) {
                Some(workout) => {
                    let title = workout["title"].as_str().unwrap_or("Workout");
                    let content = match format.as_str() {
                        "zwo" => format!("<workout_file><name>{title}</name></workout_file>"),
                        "workoutkit" => json!({"displayName": title, "sport": "strengthTraining"}).to_string(),
                        "fit_metadata" => json!({"name": title, "sport": "training"}).to_string(),
                        _ => format!("title: {title}\n"),
                    };
                    (
                        StatusCode::OK,
                        json!({"success": true, "workout_id": id, "export_format": format, "content": content, "download_url": format!("https://files.amakaflow.test/exports/{id}.{format}")}),
                    )
                }
                None => not_found("Workout not found"),
            }
        }
        ("POST", ["programs", "periodization-plan"]) => {
            let weeks = body.get("duration_weeks").and_then(Value::as_u64).unwrap_or(4);
            let plan: Vec<Value> = (1..=weeks)
                .map(|n| {
                    let deload = n % 4 == 0;
                    json!({"week_number": n, "focus": if deload { "deload" } else if n <= weeks / 2 { "hypertrophy" } else { "strength" },
                           "intensity_percent": if deload { 0.6 } else { 0.65 + 0.02 * n as f64 }, "volume_modifier": if deload { 0.6 } else { 1.0 },
                           "is_deload": deload, "notes": if deload { Value::String("Recovery week".into()) } else { Value::Null }})
                })
                .collect();
            (StatusCode::OK, json!({"success": true, "weeks": plan}))
        }
        _ => no_route(),
    }
}
