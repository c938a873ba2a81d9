//! Sessions and messages across the two services on the shared tables: what this service writes
//! is what the original's queries read (its session list, its `list_for_session` and its history
//! expansion from `tool_calls`), and sessions the original wrote, legacy `tool_calls` included,
//! continue here as history.

use std::time::Duration;

use end_to_end::clock_window::{Window, within_one_window};
use end_to_end::plugins::PluginsDir;
use end_to_end::server::{TestServer, as_test_user, read_json};
use end_to_end::sse_client::{SseTranscript, read_stream};
use serde_json::{Value, json};
use sqlx::PgPool;
use stand_ins::anthropic::{Reply, StandIn};

use super::*;

/// The service over a fresh original-schema database, with the echo plugin and a stand-in Claude.
struct Cutover {
    anthropic: StandIn,
    server: TestServer,
    original: PgPool,
    _plugins: PluginsDir,
}

impl Cutover {
    async fn start(extra: &[(&str, &str)]) -> Cutover {
        let db = original().await;
        let original = original_client(&db).await;
        let anthropic = StandIn::start().await;
        let plugins = PluginsDir::new();
        plugins.add("echo");
        let (url, dir) = (anthropic.url(), plugins.path().to_string_lossy().into_owned());
        let mut vars = vec![
            ("ANTHROPIC_BASE_URL", url.as_str()),
            ("ANTHROPIC_API_KEY", "sk-ant-cutover"),
            ("PLUGINS_DIR", dir.as_str()),
        ];
        vars.extend_from_slice(extra);
        let server = TestServer::start(&vars, db).await.expect("the service starts over the original schema");
        Cutover { anthropic, server, original, _plugins: plugins }
    }

    async fn chat(&self, user: &str, body: Value) -> SseTranscript {
        let request = as_test_user(self.server.client().post(self.server.url("/chat/stream")), user).json(&body);
        let transcript = read_stream(request, Duration::from_secs(30)).await.expect("stream reads");
        self.server.turns_finished(Duration::from_secs(30)).await;
        transcript
    }
}

fn session_of(t: &SseTranscript) -> String {
    t.first("message_start").expect("message_start").data["session_id"].as_str().unwrap().to_string()
}

/// The original's `list_for_session`: the oldest 100 messages, ascending.
async fn original_messages(pool: &PgPool, session: &str) -> Vec<Value> {
    json_rows(
        pool,
        "SELECT * FROM chat_messages WHERE session_id = $1::uuid ORDER BY created_at ASC LIMIT 100",
        session,
    )
    .await
}

#[tokio::test]
async fn a_turn_written_here_is_what_the_original_reads() {
    let c = Cutover::start(&[]).await;
    sign_up(&c.original, "user_cut_1").await;
    c.anthropic.push(Reply::text("Echoing.").and_tool_use("toolu_cut_1", "echo", r#"{"text": "hi"}"#));
    c.anthropic.push(Reply::text(" Done."));
    let t = c.chat("user_cut_1", json!({"message": "Echo hi for me please"})).await;
    assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.names());
    let session = session_of(&t);

    // The original's session list and row shape.
    let sessions = json_rows(
        &c.original,
        "SELECT id, user_id, title, metadata FROM chat_sessions WHERE user_id = $1 ORDER BY created_at DESC",
        "user_cut_1",
    )
    .await;
    assert_eq!(
        sessions,
        [json!({"id": session, "user_id": "user_cut_1", "title": "Echo hi for me please", "metadata": {}})]
    );

    let rows = original_messages(&c.original, &session).await;
    let roles: Vec<&str> = rows.iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "tool_result", "assistant"]);
    assert!(rows.iter().all(|r| r["user_id"] == "user_cut_1"), "the session's user on every row");
    assert_eq!(rows[0]["content"], "Echo hi for me please");
    assert_eq!(rows[1]["tool_use_id"], "toolu_cut_1");
    assert_eq!(rows[1]["tool_calls"], json!([{"name": "echo", "input": {"text": "hi"}, "is_error": false}]));
    let reply = &rows[2];
    assert_eq!(reply["content"], "Echoing. Done.", "all text of the turn, as the original wrote it");
    assert_eq!(reply["model"], "claude-sonnet-4-20250514");
    // The original's history expansion needs id, name, input and result on each call.
    let calls = reply["tool_calls"].as_array().expect("tool_calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["id"], "toolu_cut_1");
    assert_eq!(calls[0]["name"], "echo");
    assert_eq!(calls[0]["input"], json!({"text": "hi"}));
    let result: Value = serde_json::from_str(calls[0]["result"].as_str().expect("result text")).unwrap();
    assert_eq!(result["echo"], "hi");
    assert!(reply["tokens_used"].is_i64());
}

#[tokio::test]
async fn a_session_the_original_wrote_continues_here_with_its_tool_calls_as_history() {
    let c = Cutover::start(&[]).await;
    sign_up(&c.original, "user_cut_2").await;
    // Exactly the inserts of the Python service (it never sends user_id: the trigger copies it).
    let session: String =
        sqlx::query_scalar("INSERT INTO chat_sessions (user_id, title) VALUES ($1, 'New Chat') RETURNING id::text")
            .bind("user_cut_2")
            .fetch_one(&c.original)
            .await
            .unwrap();
    let legacy_result = r#"{"workouts": [{"id": "w-1", "title": "Leg Day"}]}"#;
    let inserts = [
        json!({"role": "user", "content": "Find me a leg workout", "age": "3 minutes"}),
        json!({"role": "tool_result", "content": legacy_result, "tool_use_id": "toolu_legacy_1",
               "tool_calls": [{"name": "search_workout_library", "input": {"query": "legs"}, "is_error": false}],
               "age": "2 minutes"}),
        json!({"role": "assistant", "content": "Leg Day looks right.", "model": "claude-sonnet-4-20250514",
               "tool_calls": [{"id": "toolu_legacy_1", "name": "search_workout_library", "input": {"query": "legs"},
                               "result": legacy_result}],
               "age": "1 minute"}),
    ];
    for row in &inserts {
        sqlx::query(
            "INSERT INTO chat_messages (session_id, role, content, tool_use_id, tool_calls, model, created_at) \
             VALUES ($1::uuid, $2, $3, $4, $5, $6, now() - $7::interval)",
        )
        .bind(&session)
        .bind(row["role"].as_str())
        .bind(row["content"].as_str())
        .bind(row["tool_use_id"].as_str())
        .bind(row.get("tool_calls").cloned())
        .bind(row["model"].as_str())
        .bind(row["age"].as_str())
        .execute(&c.original)
        .await
        .unwrap();
    }

    // The sessions API lists and pages the original's rows.
    let (status, listed) = read_json(c.server.get_as("user_cut_2", "/chat/sessions").send().await.unwrap()).await;
    assert_eq!(status, 200, "{listed}");
    assert!(listed.to_string().contains(&session), "{listed}");
    let path = format!("/chat/sessions/{session}/messages");
    let (status, page) = read_json(c.server.get_as("user_cut_2", &path).send().await.unwrap()).await;
    assert_eq!(status, 200, "{page}");
    for text in ["Find me a leg workout", "Leg Day looks right."] {
        assert!(page.to_string().contains(text), "{page}");
    }

    c.anthropic.push(Reply::text("Try Leg Day twice a week."));
    let t = c.chat("user_cut_2", json!({"message": "How often?", "session_id": session})).await;
    assert_eq!(session_of(&t), session);
    assert_eq!(t.text(), "Try Leg Day twice a week.");

    // Claude saw the legacy turn expanded as the original did: the text and tool_use, then the
    // matching tool_result, then the new message.
    let sent = c.anthropic.last_request().json();
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"][0]["text"], "Find me a leg workout");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"][0], json!({"type": "text", "text": "Leg Day looks right."}));
    assert_eq!(messages[1]["content"][1]["type"], "tool_use");
    assert_eq!(messages[1]["content"][1]["id"], "toolu_legacy_1");
    assert_eq!(messages[1]["content"][1]["input"], json!({"query": "legs"}));
    let blocks: Vec<&Value> = messages[2..].iter().flat_map(|m| m["content"].as_array().unwrap()).collect();
    let result = blocks.iter().find(|b| b["type"] == "tool_result").expect("the legacy tool result");
    assert_eq!(result["tool_use_id"], "toolu_legacy_1");
    assert_eq!(result["content"], legacy_result);
    assert_eq!(blocks.last().unwrap()["text"], "How often?");
    assert_eq!(messages.last().unwrap()["role"], "user");

    // And the original still reads the whole session, its own rows and this service's.
    let rows = original_messages(&c.original, &session).await;
    let roles: Vec<&str> = rows.iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "tool_result", "assistant", "user", "assistant"]);
}

#[tokio::test]
async fn a_user_the_original_counted_near_the_limit_gets_one_more_message() {
    within_one_window(Window::Month, || async {
        let c = Cutover::start(&[("RATE_LIMIT_FREE", "5")]).await;
        sign_up(&c.original, "user_cut_3").await;
        // Four Claude calls counted by the original this month.
        for _ in 0..4 {
            sqlx::query("SELECT increment_ai_request_limit($1, (now() AT TIME ZONE 'utc')::date)")
                .bind("user_cut_3")
                .execute(&c.original)
                .await
                .unwrap();
        }
        c.anthropic.push(Reply::text("One more."));
        let first = c.chat("user_cut_3", json!({"message": "one"})).await;
        assert_eq!(first.names().last(), Some(&"message_end"));
        let second = c.chat("user_cut_3", json!({"message": "two"})).await;
        assert_eq!(second.names(), ["error"]);
        assert_eq!(second.events[0].data["type"], "rate_limit_exceeded");
        assert_eq!(second.events[0].data["usage"], 5);
        assert_eq!(c.anthropic.request_count(), 1);
        let month_sum: i64 = sqlx::query_scalar(
            "SELECT SUM(request_count)::bigint FROM ai_request_limits WHERE user_id = $1 \
             AND request_date >= date_trunc('month', now() AT TIME ZONE 'utc')::date",
        )
        .bind("user_cut_3")
        .fetch_one(&c.original)
        .await
        .unwrap();
        assert_eq!(month_sum, 5, "the original's counter follows the admitted message");
    })
    .await
}
