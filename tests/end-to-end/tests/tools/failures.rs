//! Every tool that calls a service, under each failure class of its services: a timeout, 401, 404,
//! another status (500), and a refused connection. Each class gets one world: the previews some
//! tools need are made first, then every service fails the same way and all tools are called at
//! once. The result is the original's error for each tool: `execution_error` with the mapped
//! message for most, the tool's own code and wording where the original had one.

use end_to_end::tool_world::{Patience, Ports};
use serde_json::{Value, json};
use stand_ins::downstream::Reply;
use stand_ins::gate::Gate;
use store::Backend;

use crate::support::*;

#[derive(Clone, Copy, Debug)]
enum Class {
    Timeout,
    Unauthorized,
    NotFound,
    ServerError,
    Refused,
}

impl Class {
    /// The original's `execution_error` message for a failed downstream call.
    fn message(self) -> &'static str {
        match self {
            Class::Timeout => "The service is taking too long. Please try again.",
            Class::Unauthorized => "Authentication error. Please try logging in again.",
            Class::NotFound => "The requested item was not found.",
            Class::ServerError => "Service error (500)",
            Class::Refused => "Unable to connect to the service.",
        }
    }

    /// The image upload's own messages.
    fn image_message(self) -> &'static str {
        match self {
            Class::Timeout => "Image processing is taking too long. Please try again.",
            Class::Unauthorized => "Authentication error. Please try logging in again.",
            Class::NotFound => "Image processing failed (404)",
            Class::ServerError => "Image processing failed (500)",
            Class::Refused => "Unable to connect to the image processing service.",
        }
    }

    fn reply(self) -> Option<Reply> {
        match self {
            // A service that never answers: the plugins' own HTTP timeout is the only way out.
            Class::Timeout => Some(Reply::Held(Gate::new())),
            Class::Unauthorized => Some(Reply::Status(401)),
            Class::NotFound => Some(Reply::Status(404)),
            Class::ServerError => Some(Reply::Status(500)),
            Class::Refused => None,
        }
    }
}

/// What a tool must answer when its services fail.
enum Expect {
    Error(&'static str, String),
    /// Succeeds anyway (the call it makes is best effort); the result has this key.
    Success(&'static str),
}

/// In the world of `ports`: with the Python and JavaScript ports, the tools their world lacks (the
/// calendar's other three) are left out.
async fn every_tool_reports(class: Class, ports: Ports) {
    let patience = match class {
        Class::Timeout => Patience::SILENT_SERVICES,
        _ => Patience::ANSWERING_SERVICES,
    };
    let mut t = Tools::start_ports(Backend::Sqlite, patience, ports).await;
    // What some tools need before their services fail: a generated workout and a full program.
    let workout_preview = preview_id(&t.ok("generate_workout", json!({"description": "legs"})).await);
    let outline = preview_id(
        &t.ok("generate_program", json!({"goal": "strength", "experience_level": "advanced", "duration_weeks": 4, "sessions_per_week": 2, "equipment": []}))
            .await,
    );
    let program_preview = preview_id(&t.ok("generate_program_workouts", json!({"preview_id": outline})).await);
    t.enable_garmin(USER).await;

    match class.reply() {
        Some(reply) => {
            for service in t.services() {
                for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                    service.script(method, "/*", reply.clone());
                }
            }
        }
        None => {
            for service in [&mut t.mapper, &mut t.calendar, &mut t.ingestor, &mut t.strava, &mut t.garmin] {
                service.refuse_connections().await;
            }
        }
    }

    let m = || class.message().to_string();
    let cases: Vec<(&str, Value, Expect)> = vec![
        ("search_workout_library", json!({"query": "legs"}), Expect::Error("execution_error", m())),
        (
            "add_workout_to_calendar",
            json!({"workout_id": "w1", "date": "2026-03-02"}),
            Expect::Error("execution_error", m()),
        ),
        ("generate_workout", json!({"description": "legs"}), Expect::Error("execution_error", m())),
        (
            "save_and_push_workout",
            json!({"preview_id": workout_preview}),
            Expect::Error("save_failed", format!("Failed to save workout: {}", class.message())),
        ),
        ("import_from_youtube", json!({"url": "https://youtu.be/x"}), Expect::Error("execution_error", m())),
        ("import_from_tiktok", json!({"url": "https://tiktok.com/@a/video/1"}), Expect::Error("execution_error", m())),
        ("import_from_instagram", json!({"url": "https://instagram.com/p/1"}), Expect::Error("execution_error", m())),
        ("import_from_pinterest", json!({"url": "https://pin.it/1"}), Expect::Error("execution_error", m())),
        ("import_workout_from_url", json!({"url": "https://youtu.be/y"}), Expect::Error("execution_error", m())),
        (
            "import_from_image",
            json!({"image_data": "aW1n"}),
            Expect::Error("execution_error", class.image_message().to_string()),
        ),
        (
            "save_imported_workout",
            json!({"source_url": "https://youtu.be/x"}),
            Expect::Error("fetch_failed", format!("Failed to fetch workout data: {}", class.message())),
        ),
        (
            "edit_workout",
            json!({"workout_id": "w1", "operations": [{"op": "remove", "path": "/tags"}]}),
            Expect::Error("execution_error", m()),
        ),
        ("export_workout", json!({"workout_id": "w1", "format": "yaml"}), Expect::Error("execution_error", m())),
        ("duplicate_workout", json!({"workout_id": "w1"}), Expect::Error("execution_error", m())),
        ("log_workout_completion", json!({"workout_id": "w1"}), Expect::Error("execution_error", m())),
        ("get_workout_history", json!({}), Expect::Error("execution_error", m())),
        ("get_workout_details", json!({"workout_id": "w1"}), Expect::Error("execution_error", m())),
        (
            "generate_program",
            json!({"goal": "endurance", "experience_level": "beginner", "duration_weeks": 4, "sessions_per_week": 3, "equipment": []}),
            Expect::Success("program"),
        ),
        (
            "save_program",
            json!({"preview_id": program_preview}),
            Expect::Error("save_failed", "Failed to save program workouts".to_string()),
        ),
        (
            "get_calendar_events",
            json!({"start_date": "2026-03-01", "end_date": "2026-03-07"}),
            Expect::Error("execution_error", m()),
        ),
        (
            "reschedule_workout",
            json!({"event_id": "evt-1", "new_date": "2026-03-05"}),
            Expect::Error("execution_error", m()),
        ),
        (
            "cancel_scheduled_workout",
            json!({"event_id": "evt-1", "confirm": true}),
            Expect::Error("execution_error", m()),
        ),
        ("sync_strava", json!({}), Expect::Error("execution_error", m())),
        ("sync_garmin", json!({"workout_ids": ["w1"]}), Expect::Error("execution_error", m())),
        ("get_strava_activities", json!({}), Expect::Error("execution_error", m())),
    ];
    let offered = t.registry.functions();
    let cases: Vec<_> = cases.into_iter().filter(|(tool, _, _)| offered.iter().any(|f| f.name == *tool)).collect();
    assert!(cases.iter().any(|(tool, _, _)| *tool == "get_calendar_events"), "the ported tool is tested");
    let outcomes = futures::future::join_all(cases.iter().map(|(tool, args, _)| t.call(tool, args.clone()))).await;
    for ((tool, _, expect), outcome) in cases.iter().zip(outcomes) {
        match expect {
            Expect::Error(code, message) => assert_eq!(&fails(&outcome, tool, code), message, "{tool} under {class:?}"),
            Expect::Success(key) => {
                let result: Value = serde_json::from_str(&ok(&outcome, tool)).expect("json");
                assert!(result.get(*key).is_some(), "{tool} under {class:?}: {result}");
            }
        }
    }
}

#[tokio::test]
async fn every_tool_reports_a_timeout() {
    every_tool_reports(Class::Timeout, Ports::Rust).await
}

#[tokio::test]
async fn every_tool_reports_a_timeout_with_the_python_and_javascript_ports() {
    every_tool_reports(Class::Timeout, Ports::PythonAndJs).await
}

#[tokio::test]
async fn every_tool_reports_401() {
    every_tool_reports(Class::Unauthorized, Ports::Rust).await
}

#[tokio::test]
async fn every_tool_reports_401_with_the_python_and_javascript_ports() {
    every_tool_reports(Class::Unauthorized, Ports::PythonAndJs).await
}

#[tokio::test]
async fn every_tool_reports_404() {
    every_tool_reports(Class::NotFound, Ports::Rust).await
}

#[tokio::test]
async fn every_tool_reports_404_with_the_python_and_javascript_ports() {
    every_tool_reports(Class::NotFound, Ports::PythonAndJs).await
}

#[tokio::test]
async fn every_tool_reports_another_status() {
    every_tool_reports(Class::ServerError, Ports::Rust).await
}

#[tokio::test]
async fn every_tool_reports_another_status_with_the_python_and_javascript_ports() {
    every_tool_reports(Class::ServerError, Ports::PythonAndJs).await
}

#[tokio::test]
async fn every_tool_reports_a_refused_connection() {
    every_tool_reports(Class::Refused, Ports::Rust).await
}

#[tokio::test]
async fn every_tool_reports_a_refused_connection_with_the_python_and_javascript_ports() {
    every_tool_reports(Class::Refused, Ports::PythonAndJs).await
}
