//! Stop from the other instance: mid-text the Claude stream is dropped, mid-tool the running call
//! is abandoned (its service sees the request go away); the partial reply is persisted with stop
//! reason `stopped`, the stream ends with `message_end` carrying `"stopped": true`, and the next
//! turn of the session works.

use end_to_end::hanging_server::HangingServer;
use stand_ins::anthropic::{Reply, Split};
use stand_ins::gate::Gate;

use super::*;

/// Stops the turn of `stream` from `on` once the client has seen what `ready` asks for, and reads
/// the stream to its end.
async fn stop_when(
    cluster: &Cluster,
    on: &TestServer,
    user: &str,
    mut stream: LiveStream,
    what: &str,
    ready: impl Fn(&SseTranscript) -> bool,
) -> SseTranscript {
    let seen = stream.wait_until(what, ready).await;
    let turn = turn_of(&seen);
    let (status, body) = cluster.stop(on, user, &turn).await;
    assert_eq!((status.as_u16(), body), (200, json!({"turn_id": turn, "status": "stopping"})));
    stream.finish().await.expect("the stream ends")
}

pub(super) async fn stopping_mid_text_keeps_what_the_user_saw(cluster: &Cluster) {
    let held = Gate::new();
    cluster
        .anthropic
        .push(Reply::text("First do squats. Then lunges.").text_split(Split::Every(8)).hold_after(5, held));
    let user = user("stop_text");
    let stream = cluster.open(cluster.a(), &user, message("Legs?"));
    let t = stop_when(cluster, cluster.b(), &user, stream, "some text", |t| t.first("content_delta").is_some()).await;
    let end = t.events.last().expect("events");
    assert_eq!(end.event, "message_end", "{:?}", t.names());
    assert_eq!(end.data["stopped"], json!(true));
    let seen = t.text();
    assert!(!seen.is_empty());
    // The partial reply is the history, marked stopped; the unit is spent (text reached the user).
    let session = session_of(&t);
    let rows = cluster.rows(session).await;
    let reply = rows.last().unwrap();
    assert_eq!((reply.role.as_str(), reply.content.as_deref()), ("assistant", Some(seen.as_str())));
    assert_eq!(reply.stop_reason.as_deref(), Some("stopped"));
    assert!(reply.incomplete);
    assert_eq!(cluster.usage(&user).await, 1);
    // Stopping it again is a no-op.
    let turn = turn_of(&t);
    assert_eq!(
        cluster.stop(cluster.b(), &user, &turn).await,
        (reqwest::StatusCode::OK, json!({"turn_id": turn, "status": "finished"}))
    );
    // The next turn of the session works.
    cluster.anthropic.push(Reply::text("Sure."));
    let next = cluster.chat(cluster.b(), &user, json!({"message": "Go on", "session_id": session})).await;
    assert_eq!(next.names().last(), Some(&"message_end"), "{:?}", next.events);
}

pub(super) async fn stopping_mid_tool_abandons_the_call(cluster: &Cluster, calendar: &HangingServer) {
    cluster.anthropic.push(Reply::text("Scheduling.").and_tool_use(
        "toolu_schedule",
        "add_workout_to_calendar",
        r#"{"workout_id": "w-legs", "date": "2026-03-02", "time": "06:30"}"#,
    ));
    let user = user("stop_tool");
    let mut stream = cluster.open(cluster.a(), &user, message("Schedule legs"));
    let seen = stream.wait_until("the function call", |t| t.first("function_call").is_some()).await;
    // The tool is waiting on its service.
    calendar.received(1).await;
    let turn = turn_of(&seen);
    let (status, _) = cluster.stop(cluster.b(), &user, &turn).await;
    assert_eq!(status.as_u16(), 200);
    let t = stream.finish().await.unwrap();
    // The call's request is abandoned, not left running.
    tokio::time::timeout(PATIENCE, calendar.abandoned(1)).await.expect("the tool's request is abandoned");
    assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.names());
    assert_eq!(t.events.last().unwrap().data["stopped"], json!(true));
    assert!(t.first("function_result").is_none(), "no result of a call that was stopped: {:?}", t.names());
    let session = session_of(&t);
    let reply = cluster.rows(session).await.into_iter().rfind(|r| r.role == "assistant").expect("the partial reply");
    assert_eq!(reply.stop_reason.as_deref(), Some("stopped"));
    assert_eq!(reply.content.as_deref(), Some("Scheduling."));
    // The next turn works, and Claude gets a valid history (the stand-in validates it).
    cluster.anthropic.push(Reply::text("Let's try later."));
    let next = cluster.chat(cluster.b(), &user, json!({"message": "Never mind", "session_id": session})).await;
    assert_eq!(next.names().last(), Some(&"message_end"), "{:?}", next.events);
    let request = cluster.anthropic.requests().last().unwrap().json();
    let history = request["messages"].to_string();
    assert!(history.contains("toolu_schedule") && history.contains("interrupted"), "{history}");
}

pub(super) async fn stopping_before_anything_reached_the_user_refunds(cluster: &Cluster) {
    cluster.anthropic.push(Reply::text("Never seen.").hold_headers_until(Gate::new()));
    let user = user("stop_early");
    let stream = cluster.open(cluster.a(), &user, message("Hello"));
    let t =
        stop_when(cluster, cluster.b(), &user, stream, "message_start", |t| t.first("message_start").is_some()).await;
    assert_eq!(t.names(), ["message_start", "message_end"]);
    assert_eq!(cluster.usage(&user).await, 0, "nothing reached the user: the unit is given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_from_the_other_instance_ends_a_turn_mid_text() {
    let cluster = Cluster::two("stop_text", &[]).await;
    stopping_mid_text_keeps_what_the_user_saw(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_from_the_other_instance_abandons_a_running_tool_call() {
    let calendar = HangingServer::start().await;
    let url = calendar.url();
    let cluster = Cluster::start(
        "stop_tool",
        Shared::Redis(SHARED_REDIS_URL.to_string()),
        2,
        Backend::Postgres,
        &[("CALENDAR_API_URL", url.as_str())],
        Options { plugins: &["calendar"], ..Options::default() },
    )
    .await;
    stopping_mid_tool_abandons_the_call(&cluster, &calendar).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_before_any_output_gives_the_unit_back() {
    let cluster = Cluster::two("stop_early", &[]).await;
    stopping_before_anything_reached_the_user_refunds(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_mid_text_closes_the_connection_to_claude() {
    let claude = HangingServer::claude_mid_reply().await;
    let url = claude.url();
    let cluster = Cluster::two("stop_closes", &[("ANTHROPIC_BASE_URL", url.as_str())]).await;
    let user = user("stop_closes");
    let stream = cluster.open(cluster.a(), &user, message("Think"));
    let t =
        stop_when(&cluster, cluster.b(), &user, stream, "the first text", |t| t.first("content_delta").is_some()).await;
    tokio::time::timeout(PATIENCE, claude.abandoned(1)).await.expect("the Claude stream is closed");
    assert_eq!(t.text(), "Thinking about it");
    assert_eq!(t.events.last().unwrap().data["stopped"], json!(true));
}
