//! workout-ingestor-api's routes as the stand-in answers them: a workout extracted from a voice
//! transcription, a video or social post URL, or an uploaded image (a multipart form).

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::world::{Answer, World, no_route};
use crate::recording_server::RecordedRequest;

fn exercise(name: &str, sets: u32, reps: u32, muscle: &str) -> Value {
    json!({"name": name, "sets": sets, "reps": reps, "muscle_group": muscle, "notes": null})
}

/// A workout as the ingestor extracts it: title, blocks of exercises, the flattened list.
fn ingested(title: &str) -> Value {
    let exercises = vec![
        exercise("Goblet Squat", 3, 12, "legs"),
        exercise("Push-up", 3, 15, "chest"),
        exercise("Bent-over Row", 3, 10, "back"),
    ];
    json!({
        "title": title,
        "blocks": [{"label": "Main", "structure": "straight", "exercises": exercises}],
        "_provenance": {"mode": "cached", "source": "stand-in"},
    })
}

/// workout-ingestor-api's routes.
pub(super) fn answer(w: &mut World, request: &RecordedRequest) -> Answer {
    let body = request.json();
    let url = body.get("url").and_then(Value::as_str).unwrap_or("").to_string();
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/workouts/parse-voice") => {
            let text = body.get("transcription").and_then(Value::as_str).unwrap_or("").trim().to_string();
            if text.is_empty() {
                return (
                    StatusCode::OK,
                    json!({"success": false, "error": "Could not understand the workout description"}),
                );
            }
            let name = format!("{} Workout", text.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
            (
                StatusCode::OK,
                json!({"success": true, "workout": {
                    "name": name,
                    "exercises": [exercise("Goblet Squat", 4, 10, "legs"), exercise("Romanian Deadlift", 3, 8, "hamstrings")],
                    "duration_minutes": body.get("duration_minutes").cloned().unwrap_or(json!(30)),
                    "difficulty": body.get("difficulty").cloned().unwrap_or(json!("intermediate")),
                    "equipment": body.get("equipment").cloned().unwrap_or(json!([])),
                }}),
            )
        }
        ("POST", "/ingest/youtube") => (StatusCode::OK, ingested("YouTube Full Body Burn")),
        ("POST", "/ingest/tiktok") => {
            (StatusCode::OK, json!({"success": true, "workout": ingested("TikTok 10 Minute Abs")}))
        }
        ("POST", "/ingest/instagram_test") => (StatusCode::OK, ingested("Instagram Kettlebell Flow")),
        ("POST", "/ingest/pinterest") => {
            if url.contains("/board") || url.trim_end_matches('/').matches('/').count() >= 4 && !url.contains("/pin/") {
                let workouts = vec![ingested("Pinterest Leg Day"), ingested("Pinterest Core Blast")];
                (StatusCode::OK, json!({"success": true, "workouts": workouts, "total": 2}))
            } else {
                (StatusCode::OK, ingested("Pinterest HIIT Card"))
            }
        }
        ("POST", "/ingest/image_vision") => {
            let parts = request.multipart().unwrap_or_default();
            let Some(file) = parts.iter().find(|p| p.name == "file") else {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"detail": [{"loc": ["body", "file"], "msg": "Field required"}]}),
                );
            };
            let title = format!("Workout from {}", file.filename.clone().unwrap_or_else(|| "image".into()));
            w.new_id();
            (StatusCode::OK, ingested(&title))
        }
        _ => no_route(),
    }
}
