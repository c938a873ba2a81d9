//! Bad input at the internal embeddings endpoints (`/internal/embeddings/*`): every body and path
//! is checked before any work, so nothing is embedded or stored until a request is well formed.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;
use store::Backend;

use end_to_end::on_both_backends;

use super::*;

on_both_backends!(internal_embedding_bodies_are_checked_before_any_work);

async fn internal_embedding_bodies_are_checked_before_any_work(backend: Backend) {
    let s = Service::start(backend, &[]).await;
    let workout = json!({"id": "w1", "profile_id": "alice", "title": "Leg Day", "description": "Squats"});
    let generate = json!({"workouts": [workout]}).to_string();
    let webhook = json!({"workout_id": "w1", "workout": workout}).to_string();
    for (path, valid) in [("/internal/embeddings/generate", &generate), ("/internal/embeddings/webhook", &webhook)] {
        for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
            s.keyed_post(path, content_type, valid.clone()).await.plain(path, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        let detail = s
            .keyed_post(path, Some(JSON), padded_body(s.max_body() + 1))
            .await
            .plain(path, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(detail, "request body too large");
        s.keyed_post(path, Some(JSON), r#"{"table": "workouts""#).await.invalid(path, &["body"], "json_invalid");
        s.keyed_post(path, Some(JSON), b"\xff".to_vec()).await.invalid(path, &["body"], "json_invalid");
        s.keyed_post(path, Some(JSON), "[]").await.invalid(path, &["body"], "value_error");
        s.keyed_post(path, Some(JSON), r#"["workouts"]"#).await.invalid(path, &["body"], "value_error");
        s.keyed_post(path, Some(JSON), r#"{"table": "profiles"}"#).await.invalid(
            path,
            &["body", "table"],
            "value_error",
        );
        // (serde_json reads a number where an enum's name belongs as a syntax error.)
        s.keyed_post(path, Some(JSON), r#"{"table": 7}"#).await.invalid(path, &["body"], "json_invalid");
    }
    // Free-form workout JSON is decoded with serde_json's recursion limit, not the stack's.
    let deep = format!(r#"{{"workouts": [{{"id": "w1", "x": {}{}}}]}}"#, "[".repeat(10_000), "]".repeat(10_000));
    let refusal = s.keyed_post("/internal/embeddings/generate", Some(JSON), deep).await;
    assert!(refusal.invalid("deep", &["body"], "json_invalid").contains("recursion limit exceeded"), "{refusal:?}");
    let generate_cases = [
        (r#"{"workout_ids": "w1"}"#, vec!["body", "workout_ids"]),
        (r#"{"workout_ids": [1]}"#, vec!["body", "workout_ids", "0"]),
        (r#"{"workouts": [42]}"#, vec!["body", "workouts", "0"]),
    ];
    for (body, loc) in generate_cases {
        s.keyed_post("/internal/embeddings/generate", Some(JSON), body).await.invalid(body, &loc, "value_error");
    }
    let webhook_cases = [
        (r#"{}"#, vec!["body", "workout_id"], "missing"),
        (r#"{"workout_id": 42}"#, vec!["body", "workout_id"], "value_error"),
        (r#"{"workout_id": "w1", "workout": "x"}"#, vec!["body", "workout"], "value_error"),
    ];
    for (body, loc, kind) in webhook_cases {
        s.keyed_post("/internal/embeddings/webhook", Some(JSON), body).await.invalid(body, &loc, kind);
    }
    // Hostile table names in the path are named as invalid, never looked up.
    let long = "w".repeat(5_000);
    for table in
        ["profiles", "..%2F..%2Fetc%2Fpasswd", "workouts%00", "%E2%80%AEworkouts", "workouts';--", long.as_str()]
    {
        let refusal =
            Refusal::of(s.keyed(reqwest::Method::GET, &format!("/internal/embeddings/progress/{table}"))).await;
        refusal.invalid(table, &["path", "table"], "value_error");
    }
    let not_utf8 = Refusal::of(s.keyed(reqwest::Method::GET, "/internal/embeddings/progress/%FF%FE")).await;
    not_utf8.invalid("not UTF-8", &["path"], "value_error");

    assert!(s.openai.requests().is_empty(), "no embedding was computed");
    assert_eq!(s.server.state.embeddings.index.count("alice").await.expect("count"), 0, "nothing was stored");
    // The same bodies, well formed, are served.
    for (path, valid) in [("/internal/embeddings/generate", &generate), ("/internal/embeddings/webhook", &webhook)] {
        let response =
            s.keyed(reqwest::Method::POST, path).header(CONTENT_TYPE, JSON).body(valid.clone()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    assert_eq!(s.server.state.embeddings.index.count("alice").await.expect("count"), 1);
}
