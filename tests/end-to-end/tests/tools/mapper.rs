//! The mapper plugin: edit_workout, export_workout, duplicate_workout, log_workout_completion,
//! get_workout_history, get_workout_details, and the program steps generate_program,
//! generate_program_workouts, save_program.

use serde_json::{Value, json};
use stand_ins::downstream::Reply;

use crate::support::*;

fn seed(t: &Tools, id: &str, title: &str, description: &str) {
    let mut workout = seeded_workout(title, description);
    workout["id"] = json!(id);
    t.mapper.add_workout(USER, workout);
}

#[tokio::test]
async fn edit_workout_patches_the_operations() {
    let t = Tools::start().await;
    seed(&t, "w-legs", "Leg Day", "Squats");
    let operations =
        json!([{"op": "replace", "path": "/title", "value": "Leg Day 2"}, {"op": "remove", "path": "/tags/0"}]);
    let text = t.ok("edit_workout", json!({"workout_id": "w-legs", "operations": operations})).await;
    assert_eq!(text, r#"{"success": true, "message": "Workout updated successfully", "workout_id": "w-legs"}"#);
    let request = only_request(&t.mapper);
    assert_request(&request, "PATCH", "/workouts/w-legs", None);
    assert_eq!(request.json(), json!({"operations": operations}));

    let message = t.fails("edit_workout", json!({"workout_id": "w-legs", "operations": []}), "validation_error").await;
    assert_eq!(message, "Missing required field: operations");
    let message = t
        .fails("edit_workout", json!({"workout_id": "../../admin", "operations": operations}), "validation_error")
        .await;
    assert_eq!(message, "Invalid workout_id format");
    t.fails(
        "edit_workout",
        json!({"workout_id": "w-legs", "operations": [{"op": "move", "path": "/a"}]}),
        "invalid_arguments",
    )
    .await;
    assert_eq!(t.mapper.requests().len(), 1);
}

#[tokio::test]
async fn export_workout_returns_the_rendered_file() {
    let t = Tools::start().await;
    seed(&t, "w-legs", "Leg Day", "Squats");
    let text = t.ok("export_workout", json!({"workout_id": "w-legs", "format": "zwo"})).await;
    assert_eq!(
        text,
        r#"{"success": true, "format": "zwo", "format_name": "Zwift ZWO", "workout_id": "w-legs", "content": "<workout_file><name>Leg Day</name></workout_file>", "download_url": "https://files.amakaflow.test/exports/w-legs.zwo"}"#
    );
    assert_request(&only_request(&t.mapper), "GET", "/export/w-legs", Some("export_format=zwo"));
    t.fails("export_workout", json!({"workout_id": "w-legs", "format": "pdf"}), "invalid_arguments").await;
}

#[tokio::test]
async fn duplicate_workout_saves_a_retitled_copy_with_allowed_changes_only() {
    let t = Tools::start().await;
    seed(&t, "w-legs", "Leg Day", "Squats");
    let modifications =
        json!({"description": "Lighter", "tags": ["legs", "easy"], "profile_id": "someone-else", "id": "x"});
    let text = t.ok("duplicate_workout", json!({"workout_id": "w-legs", "modifications": modifications})).await;
    assert_eq!(
        text,
        r#"{"success": true, "message": "Workout duplicated successfully", "original_id": "w-legs", "new_workout": {"id": "00000000-0000-4000-8000-000000000001", "title": null}}"#
    );
    let requests = t.mapper.requests();
    assert_eq!(requests.len(), 2);
    assert_request(&requests[0], "GET", "/workouts/w-legs", None);
    assert_request(&requests[1], "POST", "/workouts/save", None);
    let mut expected = seeded_workout("Leg Day (Copy)", "Lighter");
    expected["tags"] = json!(["legs", "easy"]);
    expected["profile_id"] = json!(USER);
    assert_eq!(requests[1].json(), expected, "the copy: no id or timestamps, new title, allowed changes");

    t.mapper.clear_requests();
    t.ok("duplicate_workout", json!({"workout_id": "w-legs", "new_title": "Legs Again"})).await;
    assert_eq!(t.mapper.requests()[1].json()["title"], "Legs Again");
}

#[tokio::test]
async fn log_workout_completion_posts_the_metrics_given() {
    let t = Tools::start().await;
    let text = t
        .ok(
            "log_workout_completion",
            json!({"workout_id": "w-legs", "duration_minutes": 42, "notes": "felt strong", "rating": 5}),
        )
        .await;
    assert_eq!(
        text,
        r#"{"success": true, "message": "Workout completion logged", "workout_id": "w-legs", "completion_id": "00000000-0000-4000-8000-000000000001"}"#
    );
    let request = only_request(&t.mapper);
    assert_request(&request, "POST", "/workouts/complete", None);
    assert_eq!(
        request.json(),
        json!({"workout_id": "w-legs", "duration_minutes": 42, "notes": "felt strong", "rating": 5})
    );

    t.mapper.clear_requests();
    t.ok("log_workout_completion", json!({"workout_id": "w-legs", "duration_minutes": 0, "notes": ""})).await;
    assert_eq!(only_request(&t.mapper).json(), json!({"workout_id": "w-legs"}), "empty values are left out");
    t.fails("log_workout_completion", json!({"workout_id": "w-legs", "rating": 9}), "invalid_arguments").await;
}

#[tokio::test]
async fn get_workout_history_lists_completions_with_the_limit_capped() {
    let t = Tools::start().await;
    t.mapper.add_completion(
        USER,
        json!({"workout_title": "Leg Day", "completed_at": "2026-02-20", "duration_minutes": 45, "rating": 4}),
    );
    t.mapper.add_completion(USER, json!({"title": "Run", "date": "2026-02-21"}));
    t.mapper.add_completion(OTHER_USER, json!({"workout_title": "Not mine", "completed_at": "2026-02-22"}));
    let text = t.ok("get_workout_history", json!({"limit": 500, "start_date": "2026-02-01"})).await;
    assert_eq!(text, "Found 2 workout completion(s):\n1. Leg Day - 2026-02-20 (45 min) - 4/5\n2. Run - 2026-02-21");
    assert_request(&only_request(&t.mapper), "GET", "/workouts/completions", Some("limit=50&start_date=2026-02-01"));

    let t = Tools::start().await;
    let text = t.ok("get_workout_history", json!({})).await;
    assert_eq!(text, "No workout completions found for the specified period.");
    assert_request(&only_request(&t.mapper), "GET", "/workouts/completions", Some("limit=10"));
}

#[tokio::test]
async fn get_workout_details_summarises_the_workout_and_its_exercises() {
    let t = Tools::start().await;
    seed(&t, "w-legs", "Leg Day", "Squats");
    let text = t.ok("get_workout_details", json!({"workout_id": "w-legs"})).await;
    assert_eq!(
        text,
        r#"{"success": true, "workout": {"id": "w-legs", "title": "Leg Day", "description": "Squats", "exercise_count": 2, "tags": ["legs"], "estimated_duration_minutes": 45, "exercises": [{"name": "Squat", "sets": 5, "reps": 5}, {"name": "Lunge", "reps": 12}]}}"#
    );
    assert_request(&only_request(&t.mapper), "GET", "/workouts/w-legs", None);
}

/// The outline the stand-in's periodisation plan gives for 4 weeks.
const FOUR_WEEKS: &str = r#"[{"week_number": 1, "focus": "hypertrophy", "intensity_percentage": 67, "volume_modifier": 1.0, "is_deload": false, "notes": null, "workouts": []}, {"week_number": 2, "focus": "hypertrophy", "intensity_percentage": 69, "volume_modifier": 1.0, "is_deload": false, "notes": null, "workouts": []}, {"week_number": 3, "focus": "strength", "intensity_percentage": 71, "volume_modifier": 1.0, "is_deload": false, "notes": null, "workouts": []}, {"week_number": 4, "focus": "deload", "intensity_percentage": 60, "volume_modifier": 0.6, "is_deload": true, "notes": "Recovery week", "workouts": []}]"#;

fn program_args() -> Value {
    json!({"goal": "weight_loss", "experience_level": "beginner", "duration_weeks": 4, "sessions_per_week": 2,
           "equipment": ["dumbbells"], "preferred_days": ["Tuesday", "friday"]})
}

#[tokio::test]
async fn a_program_is_outlined_filled_and_saved_with_its_schedule() {
    let t = Tools::start().await;
    let outline = t.ok("generate_program", program_args()).await;
    let outline_id = preview_id(&outline);
    assert_eq!(
        outline,
        format!(
            r#"{{"type": "program_outline", "preview_id": "{outline_id}", "persisted": false, "program": {{"name": "4-Week Weight Loss Program", "goal": "weight_loss", "experience_level": "beginner", "duration_weeks": 4, "sessions_per_week": 2, "time_per_session": 60, "equipment": ["dumbbells"], "periodization_model": "hypertrophy", "weeks": {FOUR_WEEKS}}}, "next_step": "Present this program outline to the user. Show the week-by-week structure including focus, intensity, and deload weeks. Ask if they approve the structure. If confirmed, call generate_program_workouts with the preview_id."}}"#
        )
    );
    let request = only_request(&t.mapper);
    assert_request(&request, "POST", "/programs/periodization-plan", None);
    assert_eq!(request.json(), json!({"duration_weeks": 4, "goal": "weight_loss", "experience_level": "beginner"}));

    let full = t.ok("generate_program_workouts", json!({"preview_id": outline_id})).await;
    let full_id = preview_id(&full);
    assert_ne!(full_id, outline_id);
    let program: Value = serde_json::from_str(&full).expect("json");
    assert_eq!(program["type"], "program_workouts_generated");
    assert_eq!(program["persisted"], false);
    assert_eq!(
        program["program"]["weeks"][2]["workouts"],
        json!([
            {"day_of_week": 1, "name": "Week 3 - Session 1", "workout_type": "strength", "target_duration_minutes": 60, "exercises": []},
            {"day_of_week": 4, "name": "Week 3 - Session 2", "workout_type": "strength", "target_duration_minutes": 60, "exercises": []},
        ])
    );
    assert!(full.ends_with(r#""next_step": "Present the full program with all workouts to the user. Ask if they want to save it to their library. If confirmed, call save_program with the preview_id. Optionally ask if they want to schedule it starting from a specific date."}"#));
    // The outline was replaced by the full program.
    let message = t.fails("generate_program_workouts", json!({"preview_id": outline_id}), "not_found").await;
    assert_eq!(message, "Program outline not found or expired. Please generate the program again.");
    assert_eq!(t.mapper.requests().len(), 1, "filling the weeks calls no service");

    let saved = t.ok("save_program", json!({"preview_id": full_id, "schedule_start_date": "2026-03-02"})).await;
    let ids: Vec<String> = (1..=8).map(|n| format!("\"00000000-0000-4000-8000-{n:012}\"")).collect();
    assert_eq!(
        saved,
        format!(
            r#"{{"type": "program_saved", "program_name": "4-Week Weight Loss Program", "workout_count": 8, "workout_ids": [{}], "scheduled_count": 8, "schedule_start_date": "2026-03-02"}}"#,
            ids.join(", ")
        )
    );
    let saves = &t.mapper.requests()[1..];
    assert_eq!(saves.len(), 8);
    assert_request(&saves[0], "POST", "/workouts/save", None);
    assert_eq!(
        saves[0].json(),
        json!({"profile_id": USER, "device": "web", "title": "Week 1 - Session 1", "workout_data":
            {"day_of_week": 1, "name": "Week 1 - Session 1", "workout_type": "hypertrophy", "target_duration_minutes": 60, "exercises": []}})
    );
    let dates: Vec<Value> = t.calendar.requests().iter().map(|r| r.json()["scheduled_date"].clone()).collect();
    assert_eq!(
        dates,
        [
            "2026-03-02",
            "2026-03-05",
            "2026-03-09",
            "2026-03-12",
            "2026-03-16",
            "2026-03-19",
            "2026-03-23",
            "2026-03-26"
        ]
        .map(|d| json!(d))
    );
    assert_request(&t.calendar.requests()[0], "POST", "/calendar", None);
    assert_eq!(t.calendar.requests()[0].json()["workout_id"], "00000000-0000-4000-8000-000000000001");

    let message = t.fails("save_program", json!({"preview_id": full_id}), "not_found").await;
    assert_eq!(message, "Full program not found or expired. Please regenerate.");
}

#[tokio::test]
async fn a_program_outline_has_defaults_when_the_plan_is_unavailable() {
    let t = Tools::start().await;
    t.mapper.script("POST", "/programs/periodization-plan", Reply::Status(503));
    let outline: Value = serde_json::from_str(&t.ok("generate_program", program_args()).await).expect("json");
    assert_eq!(outline["program"]["periodization_model"], "linear");
    assert_eq!(
        outline["program"]["weeks"][3],
        json!({"week_number": 4, "focus": "hypertrophy", "intensity_percentage": 70, "volume_modifier": 1.0, "is_deload": false, "notes": null, "workouts": []})
    );
    t.fails("generate_program", json!({"goal": "strength", "experience_level": "beginner", "duration_weeks": 20, "sessions_per_week": 3, "equipment": []}), "invalid_arguments").await;
}

#[tokio::test]
async fn a_program_that_cannot_be_saved_keeps_its_preview() {
    let t = Tools::start().await;
    let outline_id = preview_id(&t.ok("generate_program", program_args()).await);
    let full_id = preview_id(&t.ok("generate_program_workouts", json!({"preview_id": outline_id})).await);
    t.mapper.script_times("POST", "/workouts/save", Reply::Status(500), 8);
    let message = t.fails("save_program", json!({"preview_id": full_id}), "save_failed").await;
    assert_eq!(message, "Failed to save program workouts");
    let saved: Value = serde_json::from_str(&t.ok("save_program", json!({"preview_id": full_id})).await).expect("json");
    assert_eq!(saved["workout_count"], 8);
    assert_eq!(saved["scheduled_count"], 0);
    assert_eq!(saved["schedule_start_date"], Value::Null);
    assert!(t.calendar.requests().is_empty());
}
