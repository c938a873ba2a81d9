//! The mapper tools run natively against a scripted host: their schemas are the original
//! service's, and a few of them are followed from arguments to the requests they make and the
//! exact text the model gets (the end-to-end `tools` suite covers every tool over real HTTP).

use amakaflow_tool_sdk::http::{HttpError, Method};
use amakaflow_tool_sdk::testing::{Answer, MockHost, assert_schemas_match};
use serde_json::{Value, json};

use super::plugin;

const MAPPER: &str = "http://mapper.test";

fn host() -> MockHost {
    MockHost::new().user("user_1").config("mapper_url", MAPPER)
}

#[test]
fn derived_schemas_are_the_original_ones() {
    assert_schemas_match(&plugin(), concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas"));
}

#[test]
fn details_lists_the_exercises_kept_in_the_workouts_blocks() {
    let workout = json!({"success": true, "workout": {
        "title": "Legs",
        "workout_data": {"blocks": [
            {"exercises": [{"name": "Squat", "sets": 3, "reps": 10}]},
            {"exercises": [{"name": "Lunge", "sets": 0, "duration": "30s"}]}
        ]}
    }});
    let host = host().expect(Method::Get, "http://mapper.test/workouts/w1", Answer::json(200, workout));
    let text = host.call(&plugin(), "get_workout_details", json!({"workout_id": " w1 "})).unwrap();
    assert_eq!(
        text,
        r#"{"success": true, "workout": {"id": "w1", "title": "Legs", "description": "", "exercise_count": 2, "tags": [], "exercises": [{"name": "Squat", "sets": 3, "reps": 10}, {"name": "Lunge", "duration": "30s"}]}}"#
    );
    host.assert_all_answered();
}

#[test]
fn a_slow_or_failing_mapper_reads_as_the_original_messages() {
    let host = host()
        .expect(Method::Get, "http://mapper.test/workouts/w1", Answer::error(HttpError::Timeout))
        .expect(Method::Get, "http://mapper.test/workouts/w1", Answer::text(503, "down"))
        .expect(Method::Get, "http://mapper.test/workouts/w1", Answer::text(200, "<html>"));
    let messages: Vec<String> = (0..3)
        .map(|_| host.call(&plugin(), "get_workout_details", json!({"workout_id": "w1"})).unwrap_err())
        .map(|err| format!("{}: {}", err.code, err.message))
        .collect();
    assert_eq!(
        messages,
        [
            "execution_error: The service is taking too long. Please try again.",
            "execution_error: Service error (503)",
            "execution_error: The service returned an unexpected response.",
        ]
    );
}

#[test]
fn hostile_or_malformed_arguments_never_reach_the_service() {
    let host = host();
    let err = host.call(&plugin(), "get_workout_details", json!({"workout_id": "../admin"})).unwrap_err();
    assert_eq!((err.code.as_str(), err.message.as_str()), ("validation_error", "Invalid workout_id format"));
    let err = host.call(&plugin(), "get_workout_details", json!({"workout_id": 7})).unwrap_err();
    assert_eq!(err.code, "validation_error");
    assert!(err.message.starts_with("Invalid arguments for get_workout_details: invalid type: integer `7`"), "{err}");
    // Valid for the host's schema check (an integral number), but not an i64: refused, never sent on.
    let err = host.call(&plugin(), "get_workout_history", json!({"limit": 10.0})).unwrap_err();
    assert_eq!(err.code, "validation_error");
    assert!(err.message.contains("invalid type: floating point `10.0`, expected i64"), "{err}");
    let err = host.call(&plugin(), "export_workout", json!({"workout_id": "w1", "format": "pdf"})).unwrap_err();
    assert_eq!(err.message, "Invalid format: pdf. Valid formats: yaml, zwo, workoutkit, fit_metadata");
    assert!(host.requests().is_empty(), "{:?}", host.requests());
}

#[test]
fn history_caps_the_limit_and_sends_only_the_dates_given() {
    let completions = json!({"completions": [
        {"workout_title": "Legs", "completed_at": "2026-03-01", "duration_minutes": 40, "rating": 4},
        {"title": "Run", "date": "2026-03-02"}
    ]});
    let host = host().expect(
        Method::Get,
        "http://mapper.test/workouts/completions?limit=50&start_date=2026-03-01",
        Answer::json(200, completions),
    );
    let text = host
        .call(&plugin(), "get_workout_history", json!({"limit": 500, "start_date": "2026-03-01", "end_date": ""}))
        .unwrap();
    assert_eq!(text, "Found 2 workout completion(s):\n1. Legs - 2026-03-01 (40 min) - 4/5\n2. Run - 2026-03-02");
}

/// A program goes from outline to saved workouts through the host's state: each step reads the
/// preview the step before stored, and saving consumes it.
#[test]
fn a_program_is_outlined_filled_and_saved_through_state() {
    let host = host().expect(
        Method::Post,
        "http://mapper.test/programs/periodization-plan",
        Answer::json(200, json!({"weeks": [{"focus": "strength", "intensity_percent": 0.75}]})),
    );
    let outline = host
        .call(
            &plugin(),
            "generate_program",
            json!({"goal": "strength", "experience_level": "beginner", "duration_weeks": 4, "sessions_per_week": 2,
                   "equipment": ["barbell"], "preferred_days": ["tuesday", "friday"]}),
        )
        .unwrap();
    let outline: Value = serde_json::from_str(&outline).unwrap();
    assert_eq!(outline["program"]["name"], "4-Week Strength Program");
    assert_eq!(outline["program"]["weeks"][0]["intensity_percentage"], 75);
    assert_eq!(
        host.requests()[0].json(),
        json!({"duration_weeks": 4, "goal": "strength", "experience_level": "beginner"})
    );
    let preview_id = outline["preview_id"].as_str().unwrap().to_string();

    let full = host.call(&plugin(), "generate_program_workouts", json!({"preview_id": preview_id})).unwrap();
    let full: Value = serde_json::from_str(&full).unwrap();
    let sessions = &full["program"]["weeks"][0]["workouts"];
    assert_eq!(sessions[1]["day_of_week"], 4, "friday: {sessions}");
    let full_id = full["preview_id"].as_str().unwrap().to_string();

    let mut host = host;
    for n in 0..8 {
        host = host.expect(
            Method::Post,
            "http://mapper.test/workouts/save",
            Answer::json(200, json!({"workout": {"id": format!("saved_{n}")}})),
        );
    }
    let saved = host.call(&plugin(), "save_program", json!({"preview_id": full_id})).unwrap();
    assert!(
        saved.starts_with(r#"{"type": "program_saved", "program_name": "4-Week Strength Program", "workout_count": 8"#)
    );
    let first_save = host.requests()[1].json();
    assert_eq!((&first_save["profile_id"], &first_save["title"]), (&json!("user_1"), &json!("Week 1 - Session 1")));
    assert!(host.state_keys().iter().all(|key| !key.contains(&full_id)), "the saved preview is consumed");

    let again = host.call(&plugin(), "save_program", json!({"preview_id": full_id})).unwrap_err();
    assert_eq!(again.message, "Full program not found or expired. Please regenerate.");
    host.assert_all_answered();
}
