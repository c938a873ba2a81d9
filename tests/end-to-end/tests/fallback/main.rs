//! The OpenAI fallback of a chat turn (#15 item 5), end to end: the service talks to the stand-in
//! Anthropic and the stand-in OpenAI (streaming Chat Completions, tool calls included) over real
//! HTTP, persists to SQLite or Postgres, and a client reads `POST /chat/stream`. When Anthropic
//! fails before any output reached the client (529, a refused connection, a stalled stream), the
//! client gets the very events an Anthropic turn would have sent it; once output went out, there
//! is no fallback; the circuit breaker skips Anthropic after repeated failures and lets it back in
//! after its cool-down. The queue of Claude calls (#15 item 6) is in [`queue`].

mod queue;

use std::time::Duration;

use end_to_end::on_both_backends;
use end_to_end::plugins::PluginsDir;
use end_to_end::poll::poll_until;
use end_to_end::server::{TestServer, as_test_user};
use end_to_end::sse_client::{SseTranscript, read_stream};
use host::llm::CircuitState;
use serde_json::{Value, json};
use stand_ins::anthropic::{Reply, StandIn};
use stand_ins::gate::Gate;
use stand_ins::openai::OpenAiStandIn;
use stand_ins::openai_chat::ChatReply;
use store::testing::TestDatabase;
use store::{Backend, Message, Period, Store};
use uuid::Uuid;

const ANTHROPIC_KEY: &str = "sk-ant-fallback-suite-key";
const OPENAI_MODEL: &str = "gpt-fallback-test";

/// Both stand-ins and the service wired to them, with the `echo` test plugin loaded.
struct Harness {
    anthropic: StandIn,
    openai: OpenAiStandIn,
    server: TestServer,
    db: Store,
    _plugins: PluginsDir,
}

impl Harness {
    async fn start(backend: Backend, extra: &[(&str, &str)]) -> Harness {
        let anthropic = StandIn::start().await;
        Harness::start_with(backend, anthropic, None, extra).await
    }

    /// `anthropic_url` overrides where the service sends Claude calls (a port nobody listens on).
    async fn start_with(
        backend: Backend,
        anthropic: StandIn,
        anthropic_url: Option<String>,
        extra: &[(&str, &str)],
    ) -> Harness {
        let openai = OpenAiStandIn::start().await;
        let plugins = PluginsDir::new();
        plugins.add("echo");
        let db = TestDatabase::new(backend).await.expect("test database");
        let reader = Store::connect(&db.options()).await.expect("second handle");
        let (anthropic_url, openai_url, openai_key) =
            (anthropic_url.unwrap_or_else(|| anthropic.url()), openai.url(), openai.api_key());
        let plugins_dir = plugins.path().to_string_lossy().into_owned();
        let mut vars = vec![
            ("ANTHROPIC_BASE_URL", anthropic_url.as_str()),
            ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
            ("ANTHROPIC_RETRY_BASE_SECONDS", "0.01"),
            ("ANTHROPIC_MAX_RETRIES", "1"),
            ("OPENAI_BASE_URL", openai_url.as_str()),
            ("OPENAI_API_KEY", openai_key.as_str()),
            ("OPENAI_CHAT_MODEL", OPENAI_MODEL),
            ("PLUGINS_DIR", plugins_dir.as_str()),
        ];
        vars.extend_from_slice(extra);
        let server = TestServer::start(&vars, db).await.expect("server starts");
        Harness { anthropic, openai, server, db: reader, _plugins: plugins }
    }

    async fn chat(&self, user: &str, body: Value) -> SseTranscript {
        let request = as_test_user(self.server.client().post(self.server.url("/chat/stream")), user).json(&body);
        read_stream(request, Duration::from_secs(60)).await.expect("stream reads")
    }

    fn session_of(t: &SseTranscript) -> Uuid {
        let start = t.first("message_start").expect("message_start");
        Uuid::parse_str(start.data["session_id"].as_str().unwrap()).unwrap()
    }

    async fn rows(&self, session: Uuid) -> Vec<Message> {
        self.db.message_page(session, 200, None).await.unwrap().messages
    }

    fn circuit(&self) -> CircuitState {
        self.server.state.turn_deps.llm.circuit().state()
    }
}

/// What an Anthropic turn that says `text` sends the client.
const TEXT_TURN: [&str; 3] = ["message_start", "content_delta", "message_end"];
/// What a turn that calls `echo` once and then answers sends the client.
const TOOL_TURN: [&str; 6] =
    ["message_start", "content_delta", "function_call", "function_result", "content_delta", "message_end"];

on_both_backends!(
    an_overloaded_anthropic_becomes_an_openai_turn_with_the_same_events,
    a_refused_connection_becomes_an_openai_turn,
    a_stream_stalled_before_any_output_becomes_an_openai_turn,
    a_fallback_turn_runs_tools_with_calls_and_results_translated_both_ways,
    claudes_tool_calls_in_the_history_are_translated_for_the_fallback,
    no_fallback_once_output_reached_the_client,
    an_invalid_request_is_not_retried_elsewhere,
    the_circuit_opens_after_repeated_failures_and_skips_anthropic,
    the_circuit_closes_after_its_cool_down_when_anthropic_answers,
);

async fn an_overloaded_anthropic_becomes_an_openai_turn_with_the_same_events(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    // The reference: Anthropic answering.
    h.anthropic.push(Reply::text("Squats build strong legs.").usage(120, 30));
    let claude = h.chat("user_fb_529", json!({"message": "Legs?"})).await;
    assert_eq!(claude.shape(), TEXT_TURN);

    // Anthropic overloaded on the first attempt and on its retry: the turn runs on OpenAI.
    h.anthropic.push_all([Reply::status(529), Reply::status(529)]);
    h.openai.push_chat(ChatReply::text("Squats build strong legs.").usage(200, 12));
    let session = Harness::session_of(&claude).to_string();
    let t = h.chat("user_fb_529", json!({"message": "Legs again?", "session_id": session})).await;
    assert_eq!(t.shape(), claude.shape());
    assert_eq!(t.text(), claude.text());
    assert_eq!(t.first("message_end").unwrap().data["tokens_used"], json!(212));
    assert_eq!(h.anthropic.request_count(), 3, "one reference call, then one attempt and one retry");

    // What OpenAI received: the key, its model, the system prompt, the history, the new message.
    let sent = h.openai.chat_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("authorization"), Some(format!("Bearer {}", h.openai.api_key()).as_str()));
    let body = sent[0].json();
    assert_eq!(body["model"], OPENAI_MODEL);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert!(body["tools"].as_array().unwrap().iter().any(|t| t["function"]["name"] == "echo"));
    let messages = sent[0].chat_messages();
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(messages[3]["content"], "Legs again?");

    // The reply row says which model wrote it.
    let rows = h.rows(Harness::session_of(&t)).await;
    let replies: Vec<&Message> = rows.iter().filter(|m| m.role.as_str() == "assistant").collect();
    assert_eq!(replies[0].model.as_deref(), Some("claude-sonnet-4-20250514"));
    assert_eq!(replies[1].model.as_deref(), Some(OPENAI_MODEL));
    assert_eq!(replies[1].content.as_deref(), Some("Squats build strong legs."));
    assert_eq!(replies[1].stop_reason.as_deref(), Some("end_turn"));
    assert_eq!((replies[1].input_tokens, replies[1].output_tokens), (Some(200), Some(12)));
    assert!(!replies[1].incomplete);
    assert_eq!(h.db.message_usage("user_fb_529", Period::of(chrono::Utc::now())).await.unwrap(), 2);
}

async fn a_refused_connection_becomes_an_openai_turn(backend: Backend) {
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let anthropic = StandIn::start().await;
    let h = Harness::start_with(backend, anthropic, Some(format!("http://{closed}")), &[]).await;
    h.openai.push_chat(ChatReply::text("Still here for you."));
    let t = h.chat("user_fb_refused", json!({"message": "hi"})).await;
    assert_eq!(t.shape(), TEXT_TURN);
    assert_eq!(t.text(), "Still here for you.");
    assert_eq!(h.openai.chat_requests().len(), 1);
}

async fn a_stream_stalled_before_any_output_becomes_an_openai_turn(backend: Backend) {
    let h =
        Harness::start(backend, &[("ANTHROPIC_STALL_TIMEOUT_SECONDS", "0.3"), ("ANTHROPIC_MAX_RETRIES", "0")]).await;
    // `message_start` arrives, then silence (the gate never opens): the stall timeout ends each of
    // the three attempts a stream gets before output, then the turn falls back.
    let never = Gate::new();
    h.anthropic.push_all((0..3).map(|_| Reply::text("never sent").hold_after(1, never.clone())));
    h.openai.push_chat(ChatReply::text("Answered by the fallback."));
    let t = h.chat("user_fb_stall", json!({"message": "hi"})).await;
    assert_eq!(t.shape(), TEXT_TURN);
    assert_eq!(t.text(), "Answered by the fallback.");
    assert_eq!(h.anthropic.request_count(), 3);
    let rows = h.rows(Harness::session_of(&t)).await;
    assert_eq!(rows.last().unwrap().model.as_deref(), Some(OPENAI_MODEL));
}

async fn a_fallback_turn_runs_tools_with_calls_and_results_translated_both_ways(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push_all([Reply::status(529), Reply::status(529)]);
    h.openai.push_chat(ChatReply::text("Echoing.").and_tool_call("call_echo_1", "echo", r#"{"text": "héllo"}"#));
    h.openai.push_chat(ChatReply::text("It said héllo."));
    let t = h.chat("user_fb_tools", json!({"message": "echo héllo"})).await;

    assert_eq!(t.shape(), TOOL_TURN);
    assert_eq!(t.first("function_call").unwrap().data, json!({"id": "call_echo_1", "name": "echo"}));
    let result = &t.first("function_result").unwrap().data;
    assert_eq!(result["tool_use_id"], "call_echo_1");
    let text = result["result"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(text).unwrap()["echo"], "héllo");
    // The turn stayed on OpenAI: Anthropic saw only the failed call.
    assert_eq!(h.anthropic.request_count(), 2);

    // The second OpenAI request carried the call and its result as OpenAI expects them (the
    // stand-in refuses a tool message that answers no preceding tool call).
    let second = &h.openai.chat_requests()[1];
    let messages = second.chat_messages();
    let assistant = &messages[messages.len() - 2];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(assistant["content"], "Echoing.");
    assert_eq!(assistant["tool_calls"][0]["id"], "call_echo_1");
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "echo");
    let arguments: Value =
        serde_json::from_str(assistant["tool_calls"][0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"text": "héllo"}));
    assert_eq!(messages.last().unwrap()["role"], "tool");
    assert_eq!(messages.last().unwrap()["tool_call_id"], "call_echo_1");
    assert_eq!(messages.last().unwrap()["content"], text);

    let rows = h.rows(Harness::session_of(&t)).await;
    let roles: Vec<&str> = rows.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["user", "tool_result", "assistant"]);
    assert_eq!(rows[2].content.as_deref(), Some("Echoing.It said héllo."));
    assert_eq!(rows[2].model.as_deref(), Some(OPENAI_MODEL));
    assert_eq!(rows[2].tool_calls.as_ref().unwrap().0[0]["id"], "call_echo_1");
}

async fn claudes_tool_calls_in_the_history_are_translated_for_the_fallback(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::text("Echoing.").and_tool_use("toolu_echo_1", "echo", r#"{"text": "hi"}"#));
    h.anthropic.push(Reply::text("It said hi."));
    let first = h.chat("user_fb_history", json!({"message": "echo hi"})).await;
    assert_eq!(first.shape(), TOOL_TURN);

    h.anthropic.push_all([Reply::status(529), Reply::status(529)]);
    h.openai.push_chat(ChatReply::text("You asked me to echo hi."));
    let session = Harness::session_of(&first).to_string();
    let t = h.chat("user_fb_history", json!({"message": "what did I ask?", "session_id": session})).await;
    assert_eq!(t.shape(), TEXT_TURN, "{:?}", t.events);

    let messages = h.openai.chat_requests()[0].chat_messages();
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "assistant", "user"]);
    assert_eq!(messages[2]["tool_calls"][0]["id"], "toolu_echo_1");
    assert_eq!(messages[3]["tool_call_id"], "toolu_echo_1");
}

async fn no_fallback_once_output_reached_the_client(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::text("Here is the start of").then_error("overloaded_error", "Overloaded"));
    let t = h.chat("user_fb_partial", json!({"message": "plan"})).await;
    assert_eq!(t.shape(), ["message_start", "content_delta", "error"]);
    assert_eq!(t.first("error").unwrap().data["type"], "api_error");
    assert!(h.openai.chat_requests().is_empty(), "the user already saw Claude's words");
    let rows = h.rows(Harness::session_of(&t)).await;
    assert!(rows[1].incomplete);
    assert_eq!(rows[1].model.as_deref(), Some("claude-sonnet-4-20250514"));
}

async fn an_invalid_request_is_not_retried_elsewhere(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    h.anthropic.push(Reply::status(400).error_message("messages: roles must alternate"));
    let t = h.chat("user_fb_invalid", json!({"message": "hi"})).await;
    assert_eq!(t.shape(), ["message_start", "error"]);
    assert!(h.openai.chat_requests().is_empty());
    assert_eq!(h.circuit(), CircuitState::Closed);
}

async fn the_circuit_opens_after_repeated_failures_and_skips_anthropic(backend: Backend) {
    // A cool-down no test outlives: once open, the circuit stays open here.
    let h = Harness::start(
        backend,
        &[("LLM_CIRCUIT_FAILURES", "2"), ("LLM_CIRCUIT_COOL_DOWN_SECONDS", "3600"), ("ANTHROPIC_MAX_RETRIES", "0")],
    )
    .await;
    for (i, user) in ["user_fb_open_1", "user_fb_open_2"].into_iter().enumerate() {
        h.anthropic.push(Reply::status(529));
        h.openai.push_chat(ChatReply::text("From the fallback."));
        let t = h.chat(user, json!({"message": "hi"})).await;
        assert_eq!(t.shape(), TEXT_TURN);
        let expected = if i == 0 { CircuitState::Closed } else { CircuitState::Open };
        assert_eq!(h.circuit(), expected, "after {} failure(s)", i + 1);
    }
    // Open: the next turn goes straight to OpenAI, Anthropic is not asked.
    h.openai.push_chat(ChatReply::text("Straight to the fallback."));
    let t = h.chat("user_fb_open_3", json!({"message": "hi"})).await;
    assert_eq!(t.shape(), TEXT_TURN);
    assert_eq!(t.text(), "Straight to the fallback.");
    assert_eq!(h.anthropic.request_count(), 2);
    assert_eq!(h.openai.chat_requests().len(), 3);
}

async fn the_circuit_closes_after_its_cool_down_when_anthropic_answers(backend: Backend) {
    let h = Harness::start(
        backend,
        &[("LLM_CIRCUIT_FAILURES", "1"), ("LLM_CIRCUIT_COOL_DOWN_SECONDS", "0.2"), ("ANTHROPIC_MAX_RETRIES", "0")],
    )
    .await;
    h.anthropic.push(Reply::status(529));
    h.openai.push_chat(ChatReply::text("From the fallback."));
    assert_eq!(h.chat("user_fb_close", json!({"message": "hi"})).await.shape(), TEXT_TURN);

    // Whenever the cool-down ends, the circuit reads half-open until a call tries Anthropic.
    poll_until(Duration::from_secs(30), "the circuit half-opens", async || match h.circuit() {
        CircuitState::HalfOpen => Ok(()),
        other => Err(format!("{other:?}")),
    })
    .await;
    h.anthropic.push(Reply::text("Claude is back."));
    let t = h.chat("user_fb_close", json!({"message": "again"})).await;
    assert_eq!(t.text(), "Claude is back.");
    assert_eq!(h.circuit(), CircuitState::Closed);
    assert_eq!(h.anthropic.request_count(), 2);
    assert_eq!(h.openai.chat_requests().len(), 1);
}
