//! Per-tool call latency through the real tool runtime: each of the 27 tools, as a real plugin
//! (`make plugins`), called through `Registry::call` against the local HTTP stand-ins of its
//! services (SQLite behind the host state). Each call is timed end to end (argument validation, a
//! fresh sandbox, the plugin's HTTP requests over loopback, the result); p50/p99 per tool.
//!
//! `cargo bench -p end-to-end --bench tools`.

use std::time::Instant;

use end_to_end::tool_world::{ToolWorld, USER, expect_ok};
use hdrhistogram::Histogram;
use host::embeddings::Workouts;
use serde_json::{Value, json};
use store::embeddings::SourceTable;
use store::flags::FlagScope;

const CALLS: usize = 200;
const WARMUP: usize = 10;

fn preview_id(text: &str) -> String {
    serde_json::from_str::<Value>(text).expect("json")["preview_id"].as_str().expect("preview id").to_string()
}

fn report(tool: &str, h: &Histogram<u64>) {
    let ms = |v: u64| v as f64 / 1000.0;
    println!(
        "{tool:<26} p50={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
}

/// Times `CALLS` calls of `tool`; `prepare` makes fresh arguments for each (outside the timing).
async fn measure(
    world: &ToolWorld,
    tool: &str,
    mut prepare: impl AsyncFnMut(usize) -> (String, Value),
) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for i in 0..CALLS + WARMUP {
        let (user, args) = prepare(i).await;
        let start = Instant::now();
        let outcome = world.call_as(&user, tool, args).await;
        let elapsed = start.elapsed();
        expect_ok(&outcome, tool);
        if i >= WARMUP {
            h.record(elapsed.as_micros().max(1) as u64).expect("record");
        }
    }
    h
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let w = ToolWorld::start().await;
        println!("per-tool call latency through the runtime, {CALLS} calls each, local stand-ins, SQLite");
        for id in ["w-legs", "w-run"] {
            w.mapper.add_workout(USER, json!({"id": id, "title": "Leg Day", "description": "Squats", "workout_data": {"blocks": []}}));
        }
        w.calendar.add_event(USER, json!({"id": "evt-1", "title": "Leg Day", "scheduled_date": "2026-03-02"}));
        w.mapper.add_completion(USER, json!({"workout_title": "Leg Day", "completed_at": "2026-02-20", "duration_minutes": 45}));
        w.db.store.set_feature_flag("chat_functions_enabled", FlagScope::Global, json!(["garmin_sync"])).await.expect("flag");
        let fixed = |args: Value| async move |_| (USER.to_string(), args.clone());

        let simple: Vec<(&str, Value)> = vec![
            ("navigate_to_page", json!({"page": "workout", "workout_id": "w-legs"})),
            ("add_workout_to_calendar", json!({"workout_id": "w-legs", "date": "2026-03-02", "time": "06:30"})),
            ("get_calendar_events", json!({"start_date": "2026-03-01", "end_date": "2026-03-07"})),
            ("reschedule_workout", json!({"event_id": "evt-1", "new_date": "2026-03-03"})),
            ("generate_workout", json!({"description": "leg day with dumbbells"})),
            ("import_from_youtube", json!({"url": "https://www.youtube.com/watch?v=abc"})),
            ("import_from_tiktok", json!({"url": "https://www.tiktok.com/@coach/video/1"})),
            ("import_from_instagram", json!({"url": "https://www.instagram.com/p/1"})),
            ("import_from_pinterest", json!({"url": "https://www.pinterest.com/pin/1/"})),
            ("import_workout_from_url", json!({"url": "https://youtu.be/abc"})),
            ("import_from_image", json!({"image_data": "aW1hZ2UgYnl0ZXM=", "filename": "w.png"})),
            ("save_imported_workout", json!({"source_url": "https://www.youtube.com/watch?v=abc"})),
            ("edit_workout", json!({"workout_id": "w-legs", "operations": [{"op": "replace", "path": "/title", "value": "x"}]})),
            ("export_workout", json!({"workout_id": "w-legs", "format": "yaml"})),
            ("duplicate_workout", json!({"workout_id": "w-legs"})),
            ("log_workout_completion", json!({"workout_id": "w-legs", "rating": 4})),
            ("get_workout_history", json!({"limit": 10})),
            ("get_workout_details", json!({"workout_id": "w-legs"})),
            ("get_strava_activities", json!({"limit": 10})),
            ("generate_program", json!({"goal": "strength", "experience_level": "intermediate", "duration_weeks": 8, "sessions_per_week": 3, "equipment": ["barbell"]})),
        ];
        for (tool, args) in simple {
            report(tool, &measure(&w, tool, fixed(args)).await);
        }

        // Each call needs its own preview (made outside the timing) or its own user (rate limits).
        let world = &w;
        report("save_and_push_workout", &measure(world, "save_and_push_workout", async |_| {
            let preview = preview_id(&expect_ok(&world.call("generate_workout", json!({"description": "legs"})).await, "generate"));
            (USER.to_string(), json!({"preview_id": preview, "schedule_date": "2026-03-03"}))
        }).await);
        let program = json!({"goal": "strength", "experience_level": "beginner", "duration_weeks": 4, "sessions_per_week": 2, "equipment": []});
        report("generate_program_workouts", &measure(world, "generate_program_workouts", async |_| {
            let outline = preview_id(&expect_ok(&world.call("generate_program", program.clone()).await, "outline"));
            (USER.to_string(), json!({"preview_id": outline}))
        }).await);
        report("save_program (8 sessions)", &measure(world, "save_program", async |_| {
            let outline = preview_id(&expect_ok(&world.call("generate_program", program.clone()).await, "outline"));
            let full = preview_id(&expect_ok(&world.call("generate_program_workouts", json!({"preview_id": outline})).await, "full"));
            (USER.to_string(), json!({"preview_id": full, "schedule_start_date": "2026-03-02"}))
        }).await);
        report("cancel_scheduled_workout", &measure(world, "cancel_scheduled_workout", async |i| {
            let id = world.calendar.add_event(USER, json!({"id": format!("evt-c{i}"), "title": "Leg Day", "scheduled_date": "2026-03-02"}));
            (USER.to_string(), json!({"event_id": id, "confirm": true}))
        }).await);
        report("sync_strava", &measure(world, "sync_strava", async |i| (format!("bench-{i}"), json!({"days_back": 7}))).await);
        report("sync_garmin", &measure(world, "sync_garmin", async |i| (format!("bench-{i}"), json!({"workout_ids": ["w-legs"]}))).await);

        report("search_workout_library (keyword)", &measure(world, "search_workout_library", fixed(json!({"query": "leg day"}))).await);
        let indexed: Vec<_> = (0..200)
            .map(|i| json!({"id": format!("ix{i}"), "profile_id": USER, "title": format!("Workout {i} leg day squats")}))
            .map(|v| v.as_object().expect("object").clone())
            .collect();
        world.embeddings.pipeline.generate(SourceTable::Workouts, Workouts::Inline { workouts: indexed, ids: None }).await.expect("index");
        report("search_workout_library (semantic)", &measure(world, "search_workout_library", fixed(json!({"query": "leg day"}))).await);
    });
}
