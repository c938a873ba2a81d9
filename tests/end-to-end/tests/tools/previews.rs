//! The generate → confirm → save flow of generate_workout and save_and_push_workout: the preview is
//! kept in host state for 15 minutes, scoped to its user, consumed by the save; expired previews are
//! `not_found`; on both backends.

use serde_json::json;
use stand_ins::downstream::Reply;
use store::Backend;

use crate::support::*;

const GENERATED_WORKOUT: &str = r#"{"name": "leg day with Workout", "exercises": [{"name": "Goblet Squat", "sets": 4, "reps": 10, "muscle_group": "legs", "notes": null}, {"name": "Romanian Deadlift", "sets": 3, "reps": 8, "muscle_group": "hamstrings", "notes": null}], "duration_minutes": 30, "difficulty": "beginner"}"#;

async fn generate(t: &Tools, user: &str) -> String {
    let outcome = t
        .call_as(
            user,
            "generate_workout",
            json!({"description": "leg day with dumbbells", "duration_minutes": 30, "difficulty": "beginner"}),
        )
        .await;
    ok(&outcome, "generate_workout")
}

async fn generate_then_save_with_a_schedule(backend: Backend) {
    let t = Tools::start_on(backend).await;
    let preview = generate(&t, USER).await;
    let id = preview_id(&preview);
    assert_eq!(
        preview,
        format!(
            r#"{{"type": "workout_generated", "preview_id": "{id}", "persisted": false, "workout": {GENERATED_WORKOUT}, "next_step": "Present this workout to the user and ask if they want to save it. If confirmed, call save_and_push_workout with the preview_id."}}"#
        )
    );
    assert!(t.mapper.requests().is_empty(), "generating saves nothing");

    let text = t.ok("save_and_push_workout", json!({"preview_id": id, "schedule_date": "2026-03-03"})).await;
    assert_eq!(
        text,
        r#"{"success": true, "persisted": true, "message": "Workout 'leg day with Workout' has been saved to your library!", "workout_id": "00000000-0000-4000-8000-000000000001", "title": "leg day with Workout", "scheduled_date": "2026-03-03"}"#
    );
    let save = only_request(&t.mapper);
    assert_request(&save, "POST", "/workouts/save", None);
    let saved = save.json();
    assert_eq!(saved["profile_id"], USER);
    assert_eq!(saved["device"], "web");
    assert_eq!(saved["title"], "leg day with Workout");
    assert_eq!(saved["workout_data"]["name"], "leg day with Workout", "the whole generated workout is saved");
    assert_eq!(saved["workout_data"]["exercises"][1]["name"], "Romanian Deadlift");
    let schedule = only_request(&t.calendar);
    assert_request(&schedule, "POST", "/calendar", None);
    assert_eq!(
        schedule.json(),
        json!({"workout_id": "00000000-0000-4000-8000-000000000001", "scheduled_date": "2026-03-03"})
    );

    // Consumed: a second save finds nothing and sends nothing.
    let message = t.fails("save_and_push_workout", json!({"preview_id": id}), "not_found").await;
    assert_eq!(message, "Preview not found or expired. Please generate the workout again.");
    assert_eq!(t.mapper.requests().len(), 1);
}

async fn another_users_preview_is_invisible(backend: Backend) {
    let t = Tools::start_on(backend).await;
    let id = preview_id(&generate(&t, USER).await);
    let outcome = t.call_as(OTHER_USER, "save_and_push_workout", json!({"preview_id": id})).await;
    assert_eq!(
        fails(&outcome, "save_and_push_workout", "not_found"),
        "Preview not found or expired. Please generate the workout again."
    );
    assert!(t.mapper.requests().is_empty());
    // The owner's preview is untouched by the other user's attempt.
    let text = t.ok("save_and_push_workout", json!({"preview_id": id})).await;
    assert!(text.starts_with(r#"{"success": true, "persisted": true"#), "{text}");
    assert!(!text.contains("scheduled_date"));
    assert!(t.calendar.requests().is_empty(), "no date, no scheduling");
}

async fn an_expired_preview_is_not_found(backend: Backend) {
    let t = Tools::start_on(backend).await;
    let id = preview_id(&generate(&t, USER).await);
    let key = format!("workout:{id}");
    let store = &t.db.store;
    let value =
        store.tool_state_get("workout-ingestor", USER, &key, store::now()).await.expect("state").expect("the preview");
    // Fifteen minutes later: the same preview, expired a second ago.
    let expired = store::now() - chrono::TimeDelta::seconds(1);
    let quota = store::StateQuota { max_keys: 1000, max_bytes: 8 << 20 };
    let put = store.tool_state_put("workout-ingestor", USER, &key, &value, expired, quota).await.expect("state");
    assert_eq!(put, store::StatePut::Stored);
    let message = t.fails("save_and_push_workout", json!({"preview_id": id}), "not_found").await;
    assert_eq!(message, "Preview not found or expired. Please generate the workout again.");
    assert!(t.mapper.requests().is_empty());
}

async fn a_failed_save_keeps_the_preview_for_another_try(backend: Backend) {
    let t = Tools::start_on(backend).await;
    let id = preview_id(&generate(&t, USER).await);
    t.mapper.script_times("POST", "/workouts/save", Reply::Status(503), 1);
    let message = t.fails("save_and_push_workout", json!({"preview_id": id}), "save_failed").await;
    assert_eq!(message, "Failed to save workout: Service error (503)");
    let text = t.ok("save_and_push_workout", json!({"preview_id": id})).await;
    assert!(text.contains(r#""persisted": true"#));
}

async fn a_failed_scheduling_does_not_undo_the_save(backend: Backend) {
    let t = Tools::start_on(backend).await;
    let id = preview_id(&generate(&t, USER).await);
    t.calendar.script("POST", "/calendar", Reply::Status(500));
    let text = t.ok("save_and_push_workout", json!({"preview_id": id, "schedule_date": "2026-03-03"})).await;
    assert!(text.ends_with(r#""scheduled_date": "2026-03-03"}"#), "{text}");
    assert_eq!(t.calendar.requests().len(), 1);
}

mod sqlite {
    use store::Backend::Sqlite;

    #[tokio::test]
    async fn generate_then_save_with_a_schedule() {
        super::generate_then_save_with_a_schedule(Sqlite).await
    }
    #[tokio::test]
    async fn another_users_preview_is_invisible() {
        super::another_users_preview_is_invisible(Sqlite).await
    }
    #[tokio::test]
    async fn an_expired_preview_is_not_found() {
        super::an_expired_preview_is_not_found(Sqlite).await
    }
    #[tokio::test]
    async fn a_failed_save_keeps_the_preview_for_another_try() {
        super::a_failed_save_keeps_the_preview_for_another_try(Sqlite).await
    }
    #[tokio::test]
    async fn a_failed_scheduling_does_not_undo_the_save() {
        super::a_failed_scheduling_does_not_undo_the_save(Sqlite).await
    }
}

mod postgres {
    use store::Backend::Postgres;

    #[tokio::test]
    async fn generate_then_save_with_a_schedule() {
        super::generate_then_save_with_a_schedule(Postgres).await
    }
    #[tokio::test]
    async fn another_users_preview_is_invisible() {
        super::another_users_preview_is_invisible(Postgres).await
    }
    #[tokio::test]
    async fn an_expired_preview_is_not_found() {
        super::an_expired_preview_is_not_found(Postgres).await
    }
    #[tokio::test]
    async fn a_failed_save_keeps_the_preview_for_another_try() {
        super::a_failed_save_keeps_the_preview_for_another_try(Postgres).await
    }
    #[tokio::test]
    async fn a_failed_scheduling_does_not_undo_the_save() {
        super::a_failed_scheduling_does_not_undo_the_save(Postgres).await
    }
}
