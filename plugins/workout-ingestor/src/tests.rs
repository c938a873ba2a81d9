//! The ingestor tools run natively against a scripted host: their schemas are the original
//! service's, and a generated workout is followed from its preview in state to its saving.

use amakaflow_tool_sdk::http::Method;
use amakaflow_tool_sdk::testing::{Answer, MockHost, assert_schemas_match};
use serde_json::{Value, json};

use super::plugin;

fn host() -> MockHost {
    MockHost::new()
        .user("user_1")
        .config("ingestor_url", "http://ingestor.test")
        .config("mapper_url", "http://mapper.test")
        .config("calendar_url", "http://calendar.test")
}

#[test]
fn derived_schemas_are_the_original_ones() {
    assert_schemas_match(&plugin(), concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas"));
}

fn generate(host: &MockHost) -> String {
    let text = host
        .call(
            &plugin(),
            "generate_workout",
            json!({"description": "20 min core", "duration_minutes": 20, "equipment": [], "difficulty": "beginner"}),
        )
        .unwrap();
    let result: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(result["workout"]["name"], "Core Blast");
    result["preview_id"].as_str().unwrap().to_string()
}

#[test]
fn a_generated_workout_waits_in_state_until_it_is_saved_and_scheduled() {
    let parsed = json!({"success": true, "workout": {"name": "Core Blast", "exercises": [{"name": "Plank"}]}});
    let host = host()
        .expect(Method::Post, "http://ingestor.test/workouts/parse-voice", Answer::json(200, parsed))
        .expect(Method::Post, "http://mapper.test/workouts/save", Answer::json(200, json!({"id": "w42"})))
        .expect(Method::Post, "http://calendar.test/calendar", Answer::json(201, json!({})));
    let preview_id = generate(&host);
    assert_eq!(
        host.requests()[0].json(),
        json!({"transcription": "20 min core", "difficulty": "beginner", "duration_minutes": 20}),
        "empty equipment is left out"
    );
    assert_eq!(host.state_keys(), [format!("workout:{preview_id}")]);

    let text = host
        .call(&plugin(), "save_and_push_workout", json!({"preview_id": preview_id, "schedule_date": "2026-03-02"}))
        .unwrap();
    assert_eq!(
        text,
        r#"{"success": true, "persisted": true, "message": "Workout 'Core Blast' has been saved to your library!", "workout_id": "w42", "title": "Core Blast", "scheduled_date": "2026-03-02"}"#
    );
    let save = host.requests()[1].json();
    assert_eq!((&save["profile_id"], &save["device"]), (&json!("user_1"), &json!("web")));
    assert_eq!(host.requests()[2].json(), json!({"workout_id": "w42", "scheduled_date": "2026-03-02"}));
    assert!(host.state_keys().is_empty(), "the preview is consumed");
    host.assert_all_answered();
}

#[test]
fn a_failed_save_puts_the_preview_back_for_another_try() {
    let parsed = json!({"success": true, "workout": {"name": "Core Blast"}});
    let host = host()
        .expect(Method::Post, "http://ingestor.test/workouts/parse-voice", Answer::json(200, parsed))
        .expect(Method::Post, "http://mapper.test/workouts/save", Answer::text(502, "bad gateway"));
    let preview_id = generate(&host);
    let err = host.call(&plugin(), "save_and_push_workout", json!({"preview_id": preview_id})).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("save_failed", "Failed to save workout: Service error (502)")
    );
    assert_eq!(host.state_keys(), [format!("workout:{preview_id}")]);
}

#[test]
fn an_unknown_url_is_refused_before_any_request() {
    let host = host();
    let err = host.call(&plugin(), "import_workout_from_url", json!({"url": "https://example.com/v/1"})).unwrap_err();
    assert_eq!(err.message, "Unsupported URL. Supported platforms: YouTube, TikTok, Instagram, Pinterest.");
    assert!(host.requests().is_empty());
}

#[test]
fn a_tiktok_url_goes_to_the_tiktok_import_with_the_mode_given() {
    let host = host().expect(
        Method::Post,
        "http://ingestor.test/ingest/tiktok",
        Answer::json(200, json!({"title": "Abs", "exercises": [{"name": "Crunch"}]})),
    );
    let url = "https://www.tiktok.com/@coach/video/123";
    host.call(&plugin(), "import_workout_from_url", json!({"url": url, "mode": "hybrid"})).unwrap();
    assert_eq!(host.requests()[0].json(), json!({"url": url, "mode": "hybrid"}));
}
