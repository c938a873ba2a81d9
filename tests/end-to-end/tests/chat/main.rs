//! The chat turn end to end: a client reads `POST /chat/stream` over real HTTP from the service,
//! which talks to the stand-in Anthropic over real HTTP and persists to SQLite or Postgres. Each
//! scenario checks the exact events the client receives and the rows that were written.
//!
//! Every scenario runs on both backends (`sqlite_*` and `postgres_*` tests, generated below).

use std::time::Duration;

use end_to_end::clock_window::{Window, within_one_window};
use end_to_end::on_both_backends;
use end_to_end::plugins::PluginsDir;
use end_to_end::server::{TestServer, as_test_user};
use end_to_end::sse_client::{LiveStream, SseTranscript, read_stream, read_stream_until};
use serde_json::{Value, json};
use stand_ins::anthropic::{Chunking, Reply, Split, StandIn};
use stand_ins::gate::Gate;
use store::testing::TestDatabase;
use store::{Backend, Message, Period, Store};
use uuid::Uuid;

const API_KEY: &str = "sk-ant-chat-suite-key";

/// The stand-in Anthropic and the service wired to it.
struct Harness {
    anthropic: StandIn,
    server: TestServer,
    /// A second handle on the server's database, usable after the server closed its own.
    db: Store,
}

impl Harness {
    async fn start(backend: Backend, extra: &[(&str, &str)]) -> Harness {
        Harness::with_anthropic(backend, StandIn::start().await, extra).await
    }

    /// Like [`Harness::start`] with a stand-in the test configured (over TLS, for one).
    async fn with_anthropic(backend: Backend, anthropic: StandIn, extra: &[(&str, &str)]) -> Harness {
        let db = TestDatabase::new(backend).await.expect("test database");
        let reader = Store::connect(&db.options()).await.expect("second handle");
        let url = anthropic.url();
        let mut vars = vec![
            ("ANTHROPIC_BASE_URL", url.as_str()),
            ("ANTHROPIC_API_KEY", API_KEY),
            ("ANTHROPIC_RETRY_BASE_SECONDS", "0.01"),
        ];
        vars.extend_from_slice(extra);
        let server = TestServer::start(&vars, db).await.expect("server starts");
        Harness { anthropic, server, db: reader }
    }

    fn store(&self) -> &Store {
        &self.db
    }

    fn request(&self, user: &str, body: Value) -> reqwest::RequestBuilder {
        as_test_user(self.server.client().post(self.server.url("/chat/stream")), user).json(&body)
    }

    async fn chat(&self, user: &str, body: Value) -> SseTranscript {
        read_stream(self.request(user, body), Duration::from_secs(30)).await.expect("stream reads")
    }

    /// The session of the stream (from `message_start`).
    fn session_of(t: &SseTranscript) -> Uuid {
        let start = t.first("message_start").expect("message_start");
        Uuid::parse_str(start.data["session_id"].as_str().unwrap()).unwrap()
    }

    async fn rows(&self, session: Uuid) -> Vec<Message> {
        self.store().message_page(session, 200, None).await.unwrap().messages
    }

    async fn usage(&self, user: &str) -> i64 {
        self.store().message_usage(user, Period::of(chrono::Utc::now())).await.unwrap()
    }
}

fn roles(rows: &[Message]) -> Vec<&str> {
    rows.iter().map(|m| m.role.as_str()).collect()
}

mod turn_limits;
mod upstream_connections;

on_both_backends!(
    plain_text_streams_and_persists,
    the_wire_format_is_what_clients_parse,
    follow_up_message_continues_the_session_with_history,
    tool_input_split_at_awkward_positions_is_reassembled,
    a_tool_with_no_input_gets_an_empty_object,
    the_loop_stops_after_ten_claude_calls,
    rate_limited_429_is_retried_then_succeeds,
    overloaded_529_twice_then_succeeds,
    overloaded_mid_stream_after_text_ends_with_an_error_and_keeps_the_partial_reply,
    a_stream_cut_without_message_stop_fails_and_refunds_the_quota,
    max_tokens_inside_a_tool_call_does_not_run_it,
    a_refusal_ends_the_turn_and_is_left_out_of_later_context,
    quota_exhausted_is_one_error_event,
    feature_disabled_is_one_error_event,
    unknown_and_foreign_sessions_are_refused,
    a_client_that_disconnects_still_gets_its_reply_persisted,
    shutdown_mid_stream_ends_with_an_error_and_persists_the_partial_reply,
    concurrent_turns_of_different_users_do_not_cross_talk,
    one_tool_call_runs_in_the_sandbox_and_is_persisted,
    nul_characters_in_model_text_and_tool_input_are_persisted,
    parallel_tool_calls_run_concurrently_and_answer_in_one_message,
    a_tool_that_times_out_sends_heartbeats_and_an_error_result,
);

/// A plugin directory with the example `echo` plugin and a `spin` tool (the spin-loop test plugin)
/// that runs until its 6-second deadline, with fuel enough never to run out first.
fn tool_plugins() -> PluginsDir {
    let plugins = PluginsDir::new();
    plugins.add("echo");
    plugins.add("spin-loop");
    plugins.write_manifest(
        "spin-loop",
        "name = \"spin-loop\"\nversion = \"0.1.0\"\n\n[limits]\ntimeout_seconds = 6\nfuel = 1_000_000_000_000_000\n",
    );
    plugins
}

async fn plain_text_streams_and_persists(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::text("Hello! Ready to train?").text_split(Split::Every(5)).usage(120, 30));
    let t = h.chat("user_plain_1", json!({"message": "Hi coach"})).await;

    assert_eq!(t.status, 200);
    assert_eq!(t.names().first(), Some(&"message_start"));
    assert_eq!(t.names().last(), Some(&"message_end"));
    assert!(t.names()[1..t.names().len() - 1].iter().all(|n| *n == "content_delta"));
    assert_eq!(t.text(), "Hello! Ready to train?");
    let session = Harness::session_of(&t);
    let end = t.first("message_end").unwrap();
    assert_eq!(end.data["session_id"], json!(session.to_string()));
    assert_eq!(end.data["tokens_used"], json!(150));
    assert!(end.data["latency_ms"].is_u64());
    assert!(end.data.get("pending_imports").is_none());

    let rows = h.rows(session).await;
    assert_eq!(roles(&rows), ["user", "assistant"]);
    assert_eq!(rows[0].content.as_deref(), Some("Hi coach"));
    let reply = &rows[1];
    assert_eq!(reply.content.as_deref(), Some("Hello! Ready to train?"));
    assert_eq!(reply.input_tokens, Some(120));
    assert_eq!(reply.output_tokens, Some(30));
    assert_eq!(reply.tokens_used, Some(150));
    assert_eq!(reply.stop_reason.as_deref(), Some("end_turn"));
    assert!(!reply.incomplete);
    assert_eq!(reply.model.as_deref(), Some("claude-sonnet-4-20250514"));

    // The session is titled from the message and counted once against the quota.
    let session_row = h.store().get_session(session, "user_plain_1").await.unwrap().unwrap();
    assert_eq!(session_row.title.as_deref(), Some("Hi coach"));
    assert_eq!(h.usage("user_plain_1").await, 1);

    // What Claude received: the system prompt and tools marked for caching, the user's message.
    let sent = h.anthropic.last_request();
    assert_eq!(sent.header("x-api-key"), Some(API_KEY));
    assert_eq!(sent.json()["stream"], json!(true));
    assert_eq!(sent.json()["max_tokens"], json!(4096));
    assert_eq!(sent.json()["system"][0]["cache_control"]["type"], json!("ephemeral"));
    assert!(sent.json()["system"][0]["text"].as_str().unwrap().contains("confirm-before-save"));
    assert_eq!(sent.last_message_text(), "Hi coach");
}

async fn the_wire_format_is_what_clients_parse(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::text("Grüße 💪").text_split(Split::Whole).chunking(Chunking::Bytes(3)));
    let t = h.chat("user_wire_1", json!({"message": "hello"})).await;

    assert_eq!(t.header("content-type"), Some("text/event-stream; charset=utf-8"));
    assert_eq!(t.header("cache-control"), Some("no-cache"));
    assert_eq!(t.header("x-accel-buffering"), Some("no"));
    let raw = String::from_utf8(t.raw.clone()).unwrap();
    // CRLF framing, an id on every event, Python-style JSON with non-ASCII escaped.
    assert!(raw.starts_with("id: "), "{raw}");
    assert!(!raw.replace("\r\n", "").contains('\n'), "bare LF in {raw:?}");
    assert!(
        raw.contains("event: content_delta\r\ndata: {\"text\": \"Gr\\u00fc\\u00dfe \\ud83d\\udcaa\"}\r\n\r\n"),
        "{raw}"
    );
    assert!(raw.is_ascii());
    let ids: Vec<&str> = t.events.iter().map(|e| e.id.as_deref().unwrap()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids.len(), unique.len());
    assert_eq!(t.text(), "Grüße 💪");
}

async fn follow_up_message_continues_the_session_with_history(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::text("Squats are great."));
    let first = h.chat("user_follow_1", json!({"message": "What about squats?"})).await;
    let session = Harness::session_of(&first);

    h.anthropic.push(Reply::text("Do three sets."));
    let second = h.chat("user_follow_1", json!({"message": "How many sets?", "session_id": session.to_string()})).await;
    assert_eq!(Harness::session_of(&second), session);
    assert_eq!(second.names().last(), Some(&"message_end"));

    let sent = h.anthropic.last_request();
    let body = sent.json();
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"][0]["text"], "Squats are great.");
    assert_eq!(sent.last_message_text(), "How many sets?");
    assert_eq!(roles(&h.rows(session).await), ["user", "assistant", "user", "assistant"]);
}

async fn tool_input_split_at_awkward_positions_is_reassembled(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    let input = r#"{"query": "leg dáy 💪 \"heavy\"", "limit": 3, "nested": {"a": [1, 2, {"b": null}]}}"#;
    h.anthropic.push(
        Reply::text("Searching.")
            .and_tool_use("toolu_split", "search_workout_library", input)
            .json_split(Split::Awkward)
            .chunking(Chunking::Bytes(7)),
    );
    h.anthropic.push(Reply::text("Done."));
    let t = h.chat("user_split_1", json!({"message": "find leg day"})).await;

    assert_eq!(
        t.shape(),
        ["message_start", "content_delta", "function_call", "function_result", "content_delta", "message_end"]
    );
    let call = t.first("function_call").unwrap();
    assert_eq!(call.data, json!({"id": "toolu_split", "name": "search_workout_library"}));
    let rows = h.rows(Harness::session_of(&t)).await;
    let reply = rows.iter().find(|r| r.role == "assistant").unwrap();
    let recorded = &reply.tool_calls.as_ref().unwrap().0[0];
    assert_eq!(recorded["input"], serde_json::from_str::<Value>(input).unwrap());
    // Claude got the exact input back in the next call.
    let second = &h.anthropic.requests()[1];
    assert_eq!(second.json()["messages"][1]["content"][1]["input"], serde_json::from_str::<Value>(input).unwrap());
}

async fn a_tool_with_no_input_gets_an_empty_object(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::tool_use("toolu_noargs", "get_workout_history", ""));
    h.anthropic.push(Reply::text("Here is your history."));
    let t = h.chat("user_noargs_1", json!({"message": "history"})).await;
    assert_eq!(t.shape(), ["message_start", "function_call", "function_result", "content_delta", "message_end"]);
    let second = &h.anthropic.requests()[1];
    assert_eq!(second.json()["messages"][1]["content"][0]["input"], json!({}));
    // The result block follows in the next user message.
    assert_eq!(second.json()["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(second.json()["messages"][2]["content"][0]["tool_use_id"], "toolu_noargs");
}

async fn the_loop_stops_after_ten_claude_calls(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    for i in 0..12 {
        h.anthropic.push(Reply::tool_use(format!("toolu_loop_{i}"), "navigate_to_page", r#"{"page":"home"}"#));
    }
    let t = h.chat("user_loop_1", json!({"message": "loop"})).await;
    assert_eq!(h.anthropic.request_count(), 10);
    assert_eq!(t.all("function_call").len(), 10);
    assert_eq!(t.all("function_result").len(), 10);
    assert_eq!(t.names().last(), Some(&"message_end"));
    let rows = h.rows(Harness::session_of(&t)).await;
    assert_eq!(rows.iter().filter(|r| r.role == "tool_result").count(), 10);
    let reply = rows.iter().find(|r| r.role == "assistant").unwrap();
    assert_eq!(reply.tool_calls.as_ref().unwrap().0.as_array().unwrap().len(), 10);
}

async fn rate_limited_429_is_retried_then_succeeds(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::status(429).retry_after(1));
    h.anthropic.push(Reply::text("Back again."));
    let t = h.chat("user_429_1", json!({"message": "hi"})).await;
    assert_eq!(t.shape(), ["message_start", "content_delta", "message_end"]);
    assert_eq!(h.anthropic.request_count(), 2);
}

async fn overloaded_529_twice_then_succeeds(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push_all([Reply::status(529), Reply::status(529), Reply::text("Made it.")]);
    let t = h.chat("user_529_1", json!({"message": "hi"})).await;
    assert_eq!(t.shape(), ["message_start", "content_delta", "message_end"]);
    assert_eq!(t.text(), "Made it.");
    assert_eq!(h.anthropic.request_count(), 3);
}

async fn overloaded_mid_stream_after_text_ends_with_an_error_and_keeps_the_partial_reply(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::text("Here is the start of").then_error("overloaded_error", "Overloaded"));
    let t = h.chat("user_mid_1", json!({"message": "plan"})).await;
    assert_eq!(t.shape(), ["message_start", "content_delta", "error"]);
    assert_eq!(
        t.first("error").unwrap().data,
        json!({"type": "api_error", "message": "AI service error. Please try again."})
    );
    // Not retried: text had reached the client.
    assert_eq!(h.anthropic.request_count(), 1);
    let rows = h.rows(Harness::session_of(&t)).await;
    assert_eq!(roles(&rows), ["user", "assistant"]);
    assert!(rows[1].incomplete);
    assert_eq!(rows[1].content.as_deref(), Some("Here is the start of"));
    // Output reached the user: the message counts.
    assert_eq!(h.usage("user_mid_1").await, 1);
}

async fn a_stream_cut_without_message_stop_fails_and_refunds_the_quota(backend: Backend) {
    let h = Harness::start(backend, &[("ANTHROPIC_MAX_RETRIES", "0")]).await;
    // No text before the cut; the turn retries the call twice, each cut the same way.
    h.anthropic.push_all([
        Reply::empty_message().then_cut(),
        Reply::empty_message().then_cut(),
        Reply::empty_message().then_cut(),
    ]);
    let t = h.chat("user_cut_1", json!({"message": "hi"})).await;
    assert_eq!(t.shape(), ["message_start", "error"]);
    assert_eq!(t.first("error").unwrap().data["type"], "api_error");
    let rows = h.rows(Harness::session_of(&t)).await;
    assert_eq!(roles(&rows), ["user"]);
    assert_eq!(h.usage("user_cut_1").await, 0, "a turn without output gives its unit back");
}

async fn max_tokens_inside_a_tool_call_does_not_run_it(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::text("Let me schedule").and_cut_tool_use(
        "toolu_cut",
        "add_workout_to_calendar",
        r#"{"workout_id": "w1", "da"#,
    ));
    let t = h.chat("user_maxtok_1", json!({"message": "schedule"})).await;
    assert_eq!(t.shape(), ["message_start", "content_delta", "function_call", "message_end"]);
    assert!(t.first("function_result").is_none());
    assert_eq!(h.anthropic.request_count(), 1);
    let rows = h.rows(Harness::session_of(&t)).await;
    assert_eq!(roles(&rows), ["user", "assistant"]);
    assert_eq!(rows[1].stop_reason.as_deref(), Some("max_tokens"));
    assert!(rows[1].tool_calls.is_none());
}

async fn a_refusal_ends_the_turn_and_is_left_out_of_later_context(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::empty_message().stop_reason("refusal"));
    let t = h.chat("user_refuse_1", json!({"message": "something bad"})).await;
    assert_eq!(t.shape(), ["message_start", "content_delta", "message_end"]);
    assert!(t.text().contains("can't help"));
    let session = Harness::session_of(&t);

    h.anthropic.push(Reply::text("Sure, let's train."));
    h.chat("user_refuse_1", json!({"message": "ok, legs then", "session_id": session.to_string()})).await;
    let messages = h.anthropic.last_request().json()["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 1, "the refused turn is not sent again: {messages:?}");
    assert_eq!(h.anthropic.last_request().last_message_text(), "ok, legs then");
}

async fn quota_exhausted_is_one_error_event(backend: Backend) {
    within_one_window(Window::Month, move || quota_exhausted_within_one_month(backend)).await
}

async fn quota_exhausted_within_one_month(backend: Backend) {
    let h = Harness::start(backend, &[("RATE_LIMIT_FREE", "1")]).await;
    h.anthropic.push(Reply::text("First."));
    let first = h.chat("user_quota_1", json!({"message": "one"})).await;
    assert_eq!(first.names().last(), Some(&"message_end"));

    let second = h.chat("user_quota_1", json!({"message": "two"})).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.names(), ["error"]);
    let error = &second.events[0].data;
    assert_eq!(error["type"], "rate_limit_exceeded");
    assert_eq!(error["message"], "Monthly message limit (1) reached. Upgrade for more.");
    assert_eq!(error["usage"], 1);
    assert_eq!(error["limit"], 1);
    assert!(error["retry_after"].as_i64().unwrap() > 0);
    assert_eq!(h.anthropic.request_count(), 1);
}

async fn feature_disabled_is_one_error_event(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.store()
        .set_feature_flag("chat_enabled", store::flags::FlagScope::User("user_flag_1"), json!(false))
        .await
        .unwrap();
    let t = h.chat("user_flag_1", json!({"message": "hi"})).await;
    assert_eq!(t.shape(), ["error"]);
    assert_eq!(
        t.events[0].data,
        json!({"type": "feature_disabled", "message": "Chat is not available for your account. Please check back later."})
    );
    assert_eq!(h.usage("user_flag_1").await, 0);
}

/// (A malformed session id is a 422 before any stream opens: see the `bad_input` suite.)
async fn unknown_and_foreign_sessions_are_refused(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::text("Mine."));
    let owner = h.chat("user_owner_1", json!({"message": "mine"})).await;
    let session = Harness::session_of(&owner);

    for (user, session_id, kind) in
        [("user_other_1", session.to_string(), "not_found"), ("user_owner_1", Uuid::new_v4().to_string(), "not_found")]
    {
        let t = h.chat(user, json!({"message": "hi", "session_id": session_id})).await;
        assert_eq!(t.shape(), ["error"], "{user} {session_id}");
        assert_eq!(t.events[0].data["type"], kind);
        assert_eq!(h.usage(user).await, if user == "user_owner_1" { 1 } else { 0 });
    }
    assert_eq!(h.anthropic.request_count(), 1);
    assert_eq!(roles(&h.rows(session).await), ["user", "assistant"], "nothing was written to the owner's session");
}

async fn a_client_that_disconnects_still_gets_its_reply_persisted(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    // The reply's first word goes out, then the rest waits until the client has gone.
    let rest = Gate::new();
    h.anthropic
        .push(Reply::text("one two three four five six").text_split(Split::Every(4)).hold_after(4, rest.clone()));
    let t = read_stream_until(h.request("user_gone_1", json!({"message": "count"})), Duration::from_secs(10), |t| {
        t.first("content_delta").is_some()
    })
    .await
    .unwrap();
    assert_eq!(t.text(), "one ", "the client left after the first word");
    let session = Harness::session_of(&t);
    rest.open();
    // The turn runs on without the client and lands in the history.
    h.server.turns_finished(Duration::from_secs(30)).await;
    let rows = h.rows(session).await;
    assert_eq!(roles(&rows), ["user", "assistant"]);
    assert_eq!(rows[1].content.as_deref(), Some("one two three four five six"));
    assert!(!rows[1].incomplete);
    let page: Value = h
        .server
        .get_as("user_gone_1", &format!("/chat/sessions/{session}/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["messages"][1]["content"], "one two three four five six");
}

async fn shutdown_mid_stream_ends_with_an_error_and_persists_the_partial_reply(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    // Three deltas go out, then the reply waits for good: the turn is still running whenever the
    // shutdown comes, however fast or slow the machine.
    h.anthropic
        .push(Reply::text("a b c d e f g h i j k l m n o p").text_split(Split::Every(2)).hold_after(6, Gate::new()));
    let mut stream =
        LiveStream::open(h.request("user_term_1", json!({"message": "long answer"})), Duration::from_secs(20));
    stream.wait_until("three deltas", |t| t.text() == "a b c ").await;
    // SIGTERM (what the signal handler calls).
    h.server.state.shutdown.begin(Duration::from_millis(500));

    // New streams are refused while draining.
    let refused = h.request("user_term_2", json!({"message": "hi"})).send().await;
    if let Ok(response) = refused {
        assert_eq!(response.status(), 503);
    }

    let t = stream.finish().await.unwrap();
    assert_eq!(t.names().last(), Some(&"error"));
    assert_eq!(t.first("error").unwrap().data["type"], "service_unavailable");
    assert_eq!(t.text(), "a b c ");
    let rows = h.rows(Harness::session_of(&t)).await;
    assert_eq!(roles(&rows), ["user", "assistant"]);
    assert!(rows[1].incomplete);
    assert_eq!(rows[1].content.as_deref(), Some(t.text().as_str()));
}

async fn concurrent_turns_of_different_users_do_not_cross_talk(backend: Backend) {
    let anthropic = StandIn::dev_model().await;
    let db = TestDatabase::new(backend).await.unwrap();
    let reader = Store::connect(&db.options()).await.unwrap();
    let url = anthropic.url();
    let server =
        TestServer::start(&[("ANTHROPIC_BASE_URL", url.as_str()), ("ANTHROPIC_API_KEY", API_KEY)], db).await.unwrap();
    let h = Harness { anthropic, server, db: reader };
    let turns = (0..100).map(|i| {
        let user = format!("user_crowd_{i:03}");
        let request = h.request(&user, json!({"message": format!("hello from {user}")}));
        async move { (user, read_stream(request, Duration::from_secs(60)).await.unwrap()) }
    });
    let results = futures::future::join_all(turns).await;
    for (user, t) in &results {
        assert_eq!(t.names().first(), Some(&"message_start"), "{user}: {:?}", t.names());
        assert_eq!(t.names().last(), Some(&"message_end"), "{user}: {:?}", t.names());
        let session = Harness::session_of(t);
        let rows = h.rows(session).await;
        assert_eq!(rows[0].content.as_deref(), Some(format!("hello from {user}").as_str()));
        assert!(h.store().get_session(session, user).await.unwrap().is_some(), "{user} owns its session");
    }
    // Each request to Claude carried exactly one user's message.
    for request in h.anthropic.requests() {
        assert_eq!(request.json()["messages"].as_array().unwrap().len(), 1);
    }
    assert_eq!(h.anthropic.request_count(), 100);
}

/// Postgres cannot store U+0000 in `text` or `jsonb`: the reply the user saw must still land in the
/// history, with each NUL replaced by U+FFFD on both backends alike.
async fn nul_characters_in_model_text_and_tool_input_are_persisted(backend: Backend) {
    let plugins = tool_plugins();
    let dir = plugins.path().to_string_lossy().into_owned();
    let h = Harness::start(backend, &[("PLUGINS_DIR", &dir)]).await;
    h.anthropic.push(Reply::text("before\u{0}after").and_tool_use("toolu_nul_1", "echo", r#"{"text": "x\u0000y"}"#));
    h.anthropic.push(Reply::text("done\u{0}"));
    let t = h.chat("user_nul_1", json!({"message": "echo a NUL"})).await;

    assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.names());
    assert_eq!(t.text(), "before\u{0}afterdone\u{0}", "the client sees what the model said");
    let rows = h.rows(Harness::session_of(&t)).await;
    assert_eq!(roles(&rows), ["user", "tool_result", "assistant"]);
    assert_eq!(rows[1].tool_calls.as_ref().unwrap().0[0]["input"]["text"], "x\u{FFFD}y");
    let reply = &rows[2];
    assert_eq!(reply.content.as_deref(), Some("before\u{FFFD}afterdone\u{FFFD}"));
    assert!(!reply.incomplete);
    assert_eq!(reply.tool_calls.as_ref().unwrap().0[0]["input"]["text"], "x\u{FFFD}y");
}

async fn one_tool_call_runs_in_the_sandbox_and_is_persisted(backend: Backend) {
    let plugins = tool_plugins();
    let dir = plugins.path().to_string_lossy().into_owned();
    let h = Harness::start(backend, &[("PLUGINS_DIR", &dir)]).await;
    h.anthropic.push(Reply::text("Echoing.").and_tool_use("toolu_echo_1", "echo", r#"{"text": "hello"}"#));
    h.anthropic.push(Reply::text("It said hello."));
    let t = h.chat("user_tool_1", json!({"message": "echo hello"})).await;

    assert_eq!(
        t.shape(),
        ["message_start", "content_delta", "function_call", "function_result", "content_delta", "message_end"]
    );
    let result = &t.first("function_result").unwrap().data;
    assert_eq!(result["tool_use_id"], "toolu_echo_1");
    assert_eq!(result["name"], "echo");
    let text = result["result"].as_str().expect("the result is always a string");
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(parsed["echo"], "hello");
    assert_eq!(parsed["user_id"], "user_tool_1");

    // Claude's first request offered the plugin's tools, the last one marked for caching.
    let first = h.anthropic.requests()[0].json();
    let tools = first["tools"].as_array().unwrap();
    assert!(tools.iter().any(|t| t["name"] == "echo"));
    assert_eq!(tools.last().unwrap()["cache_control"]["type"], "ephemeral");
    // The second carried the result right after the tool_use, as a non-error tool_result.
    let second = &h.anthropic.requests()[1];
    let block = &second.json()["messages"][2]["content"][0];
    assert_eq!(block["type"], "tool_result");
    assert_eq!(block["tool_use_id"], "toolu_echo_1");
    assert_eq!(block["content"], text);
    assert!(block.get("is_error").is_none());

    let rows = h.rows(Harness::session_of(&t)).await;
    assert_eq!(roles(&rows), ["user", "tool_result", "assistant"]);
    assert_eq!(rows[1].tool_use_id.as_deref(), Some("toolu_echo_1"));
    assert_eq!(rows[1].content.as_deref(), Some(text));
    assert_eq!(
        rows[1].tool_calls.as_ref().unwrap().0,
        json!([{"name": "echo", "input": {"text": "hello"}, "is_error": false}])
    );
    assert_eq!(
        rows[2].tool_calls.as_ref().unwrap().0,
        json!([{"id": "toolu_echo_1", "name": "echo", "input": {"text": "hello"}, "result": text}])
    );
    assert_eq!(rows[2].content.as_deref(), Some("Echoing.It said hello."));
}

async fn parallel_tool_calls_run_concurrently_and_answer_in_one_message(backend: Backend) {
    let plugins = tool_plugins();
    let dir = plugins.path().to_string_lossy().into_owned();
    let h = Harness::start(backend, &[("PLUGINS_DIR", &dir)]).await;
    // The slow call comes first; the fast one finishes while it still runs.
    h.anthropic.push(
        Reply::tool_use("toolu_slow", "spin", "")
            .and_tool_use("toolu_fast_a", "echo", r#"{"text": "a"}"#)
            .and_tool_use("toolu_fast_b", "echo", r#"{"text": "b"}"#),
    );
    h.anthropic.push(Reply::text("All three are back."));
    let t = h.chat("user_parallel_1", json!({"message": "three things"})).await;

    let results: Vec<&str> = t.all("function_result").iter().map(|e| e.data["tool_use_id"].as_str().unwrap()).collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results.last(), Some(&"toolu_slow"), "fast results are sent as they finish: {results:?}");
    let second = h.anthropic.requests()[1].json();
    let messages = second["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "all results in one user message");
    let blocks = messages[2]["content"].as_array().unwrap();
    let ids: Vec<&str> = blocks.iter().map(|b| b["tool_use_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["toolu_slow", "toolu_fast_a", "toolu_fast_b"], "in the order of the calls");
    assert_eq!(blocks[0]["is_error"], true);
    assert_eq!(t.names().last(), Some(&"message_end"));
}

async fn a_tool_that_times_out_sends_heartbeats_and_an_error_result(backend: Backend) {
    let plugins = tool_plugins();
    let dir = plugins.path().to_string_lossy().into_owned();
    let h = Harness::start(backend, &[("PLUGINS_DIR", &dir)]).await;
    h.anthropic.push(Reply::tool_use("toolu_spin", "spin", ""));
    h.anthropic.push(Reply::text("That took too long."));
    let t = h.chat("user_timeout_1", json!({"message": "spin"})).await;

    assert_eq!(
        t.shape(),
        ["message_start", "function_call", "heartbeat", "function_result", "content_delta", "message_end"]
    );
    let beat = &t.first("heartbeat").unwrap().data;
    assert_eq!(beat, &json!({"status": "executing_tool", "tool_name": "spin", "elapsed_seconds": 5}));
    let result: Value =
        serde_json::from_str(t.first("function_result").unwrap().data["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["error"], true);
    assert_eq!(result["code"], "timeout");
    let second = &h.anthropic.requests()[1];
    assert_eq!(second.json()["messages"][2]["content"][0]["is_error"], true);
    let rows = h.rows(Harness::session_of(&t)).await;
    assert_eq!(rows[1].tool_calls.as_ref().unwrap().0[0]["is_error"], true);
}
