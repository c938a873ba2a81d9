//! The Anthropic client against the stand-in Anthropic over real HTTP on loopback: what it sends,
//! how it reads every kind of event, how it retries before the first byte, and how each failure
//! after the HTTP 200 surfaces. The stand-in speaks the wire format byte for byte.

use std::time::Duration;

use chat_api::config::AnthropicConfig;
use chat_api::llm::{
    AnthropicClient, ApiMessage, AssistantTurn, BlockStart, ClientOptions, ContentBlock, LlmError, MessageAccumulator,
    MessageStream, MessagesRequest, RequestMeta, RetryPolicy, Role, StreamEvent, ToolDef, Usage,
};
use chat_tests::anthropic::{Chunking, Frame, Reply, STAND_IN_LABEL, Split, StandIn};
use futures::StreamExt;
use serde_json::{Value, json};

const API_KEY: &str = "sk-ant-test-3f9c2b7d-never-show-me";
const HELICONE_KEY: &str = "sk-helicone-test-81ac-never-show-me";
const MODEL: &str = "claude-test-model";

fn config(base_url: &str) -> AnthropicConfig {
    AnthropicConfig {
        api_key: Some(API_KEY.to_string()),
        base_url: base_url.to_string(),
        model: MODEL.to_string(),
        max_tokens: 4096,
        helicone_enabled: false,
        helicone_api_key: None,
        helicone_base_url: "https://anthropic.helicone.ai".to_string(),
        history_token_budget: 30_000,
        max_retries: 3,
        retry_base: Duration::from_millis(500),
        stall_timeout: Duration::from_secs(60),
    }
}

/// Retries without real waiting, so that tests stay fast.
fn fast_options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
        stall_timeout: Duration::from_secs(10),
    }
}

fn client_for(config: &AnthropicConfig) -> AnthropicClient {
    AnthropicClient::new(config, "test", reqwest::Client::new()).with_options(fast_options())
}

fn client(anthropic: &StandIn) -> AnthropicClient {
    client_for(&config(&anthropic.url()))
}

fn tool(name: &str) -> ToolDef {
    ToolDef {
        name: name.to_string(),
        description: format!("The {name} tool."),
        input_schema: json!({"type":"object","properties":{"query":{"type":"string"}}}),
    }
}

fn request(text: &str) -> MessagesRequest {
    MessagesRequest {
        model: MODEL.to_string(),
        max_tokens: 4096,
        system: "You are a fitness coach.".to_string(),
        messages: vec![ApiMessage::user_text(text)],
        tools: vec![tool("search_workout_library"), tool("get_workout_history"), tool("get_strava_activities")].into(),
    }
}

fn meta() -> RequestMeta {
    RequestMeta {
        user_id: "user_2abc".to_string(),
        session_id: Some("8d7c0e0a-3b8e-4c1e-9f57-0c7c1d5a2f10".to_string()),
        request_id: "req-ours-1".to_string(),
    }
}

/// Every event of one call, the first error included (the stream ends after it).
async fn events(anthropic: &StandIn) -> Vec<Result<StreamEvent, LlmError>> {
    let stream = client(anthropic).stream(&request("hi"), &meta()).await.expect("the stream opens");
    stream.collect().await
}

async fn turn(anthropic: &StandIn) -> Result<AssistantTurn, LlmError> {
    client(anthropic).stream(&request("hi"), &meta()).await?.collect_turn().await
}

/// What a caller that forwards events sees: the turn so far and the error that ended the stream.
async fn turn_until_error(mut stream: MessageStream) -> (AssistantTurn, Option<LlmError>) {
    let mut accumulator = MessageAccumulator::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => accumulator.push(&event),
            Err(err) => return (accumulator.finish(), Some(err)),
        }
    }
    (accumulator.finish(), None)
}

/// A loopback port with nothing listening.
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

mod events {
    use super::*;

    #[tokio::test]
    async fn every_event_kind_is_parsed() {
        let anthropic = StandIn::start().await;
        anthropic.push(
            Reply::empty_message()
                .and_thinking("Legs first.", "EqQBCgIYAhIM")
                .and_redacted_thinking("opaque-data")
                .and_text("Let me look.")
                .and_tool_use("toolu_01", "search_workout_library", r#"{"query":"legs"}"#)
                .usage(321, 54),
        );
        let events: Vec<StreamEvent> = events(&anthropic).await.into_iter().map(Result::unwrap).collect();

        let StreamEvent::MessageStart { id, model, usage } = &events[0] else { panic!("{events:?}") };
        assert!(id.starts_with("msg_"));
        assert_eq!(model, MODEL);
        assert_eq!(usage.input_tokens, Some(321));
        assert_eq!(events[1], StreamEvent::Ping);
        let starts: Vec<&BlockStart> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ContentBlockStart { block, .. } => Some(block),
                _ => None,
            })
            .collect();
        assert_eq!(
            starts,
            [
                &BlockStart::Thinking,
                &BlockStart::RedactedThinking { data: "opaque-data".into() },
                &BlockStart::Text,
                &BlockStart::ToolUse { id: "toolu_01".into(), name: "search_workout_library".into() },
            ]
        );
        let has = |pred: fn(&StreamEvent) -> bool| events.iter().any(pred);
        assert!(has(|e| matches!(e, StreamEvent::ThinkingDelta { index: 0, .. })));
        assert!(has(
            |e| matches!(e, StreamEvent::SignatureDelta { index: 0, signature } if signature == "EqQBCgIYAhIM")
        ));
        assert!(has(|e| matches!(e, StreamEvent::TextDelta { index: 2, .. })));
        assert!(has(|e| matches!(e, StreamEvent::InputJsonDelta { index: 3, .. })));
        assert_eq!(events.iter().filter(|e| matches!(e, StreamEvent::ContentBlockStop { .. })).count(), 4);
        assert_eq!(
            events[events.len() - 2],
            StreamEvent::MessageDelta {
                stop_reason: Some("tool_use".into()),
                usage: chat_api::llm::UsageDelta {
                    input_tokens: Some(321),
                    output_tokens: Some(54),
                    cache_creation_input_tokens: Some(0),
                    cache_read_input_tokens: Some(0),
                },
            }
        );
        assert_eq!(events.last(), Some(&StreamEvent::MessageStop));

        let mut accumulator = MessageAccumulator::new();
        events.iter().for_each(|e| accumulator.push(e));
        let turn = accumulator.finish();
        assert_eq!(
            turn.content,
            vec![
                ContentBlock::Thinking { thinking: "Legs first.".into(), signature: "EqQBCgIYAhIM".into() },
                ContentBlock::RedactedThinking { data: "opaque-data".into() },
                ContentBlock::Text { text: "Let me look.".into() },
                ContentBlock::ToolUse {
                    id: "toolu_01".into(),
                    name: "search_workout_library".into(),
                    input: json!({"query":"legs"}),
                },
            ]
        );
        assert_eq!(turn.model.as_deref(), Some(MODEL));
    }

    #[tokio::test]
    async fn unknown_event_and_delta_types_are_ignored() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("Hello there").with_unknown_events());
        anthropic.push(Reply::text("Hello there"));
        let kinds = |events: Vec<Result<StreamEvent, LlmError>>| -> Vec<String> {
            events
                .into_iter()
                .map(|e| format!("{:?}", e.unwrap()).split([' ', '{']).next().unwrap().to_string())
                .collect()
        };
        let with_unknown = kinds(events(&anthropic).await);
        let without = kinds(events(&anthropic).await);
        assert_eq!(with_unknown, without);
    }

    #[tokio::test]
    async fn usage_is_a_running_total_never_doubled() {
        let anthropic = StandIn::start().await;
        // Newer streams repeat input and cache counts in message_delta.
        anthropic.push(Reply::text("Hi").usage(1200, 87).cache_tokens(30, 4000));
        // Older streams send only output_tokens there.
        anthropic.push(Reply::text("Hi").usage(1200, 87).cache_tokens(30, 4000).legacy_usage());
        let expected = Usage {
            input_tokens: 1200,
            output_tokens: 87,
            cache_creation_input_tokens: 30,
            cache_read_input_tokens: 4000,
        };
        assert_eq!(turn(&anthropic).await.unwrap().usage, expected);
        assert_eq!(turn(&anthropic).await.unwrap().usage, expected);
        assert_eq!(expected.prompt_tokens(), 5230);
    }

    #[tokio::test]
    async fn tool_input_split_at_awkward_positions_is_reassembled() {
        let input = json!({
            "query": "jambes \"lourdes\" été 🏋️‍♀️ \\ fin",
            "filters": {"max_minutes": 30, "tags": ["legs", "glutes"], "deep": {"x": [1, 2.5, null, true]}}
        });
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::tool_use("toolu_awk", "search_workout_library", input.to_string()));
        anthropic.push(
            Reply::tool_use("toolu_bytes", "search_workout_library", input.to_string())
                .json_split(Split::Every(1))
                .chunking(Chunking::Bytes(97))
                .chunk_delay(Duration::from_millis(1)),
        );
        for id in ["toolu_awk", "toolu_bytes"] {
            let turn = turn(&anthropic).await.unwrap();
            assert_eq!(turn.tool_uses.len(), 1);
            assert_eq!(turn.tool_uses[0].id, id);
            assert_eq!(turn.tool_uses[0].input, input);
            assert_eq!(turn.tool_uses[0].input_error, None);
        }
    }

    #[tokio::test]
    async fn text_cut_on_the_wire_inside_multibyte_characters_arrives_intact() {
        let text = "Échauffement: 5 min 🏃, puis squats ×3 — ça brûle! 💪🏽";
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text(text).chunking(Chunking::Bytes(5)).chunk_delay(Duration::from_millis(1)));
        anthropic.push(Reply::text(text).chunking(Chunking::At(vec![5, 77, 78, 200, 201, 202, 350])));
        assert_eq!(turn(&anthropic).await.unwrap().text(), text);
        assert_eq!(turn(&anthropic).await.unwrap().text(), text);
    }

    #[tokio::test]
    async fn a_tool_without_input_gets_an_empty_object() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::tool_use("toolu_noargs", "get_strava_activities", ""));
        let events: Vec<StreamEvent> = events(&anthropic).await.into_iter().map(Result::unwrap).collect();
        let fragments: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::InputJsonDelta { partial_json, .. } => Some(partial_json.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(fragments, [""], "the wire carries one empty fragment");
        let mut accumulator = MessageAccumulator::new();
        events.iter().for_each(|e| accumulator.push(e));
        let turn = accumulator.finish();
        assert_eq!(turn.tool_uses[0].input, json!({}));
        assert_eq!(turn.tool_uses[0].input_error, None);
    }

    #[tokio::test]
    async fn text_and_parallel_tool_calls_come_back_in_index_order() {
        let anthropic = StandIn::start().await;
        anthropic.push(
            Reply::text("Checking both.")
                .and_tool_use("toolu_a", "search_workout_library", r#"{"query":"core"}"#)
                .and_tool_use("toolu_b", "get_workout_history", r#"{"limit":5}"#),
        );
        let turn = turn(&anthropic).await.unwrap();
        assert_eq!(turn.text(), "Checking both.");
        let calls: Vec<(&str, &Value)> = turn.tool_uses.iter().map(|t| (t.id.as_str(), &t.input)).collect();
        assert_eq!(calls, [("toolu_a", &json!({"query":"core"})), ("toolu_b", &json!({"limit":5}))]);
        assert_eq!(turn.stop_reason.as_deref(), Some("tool_use"));
        assert!(!turn.unfinished_tool_use);
    }

    #[tokio::test]
    async fn max_tokens_inside_a_tool_call_leaves_it_unfinished() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("Building your plan").and_cut_tool_use(
            "toolu_cut",
            "generate_workout",
            r#"{"description": "a long"#,
        ));
        let turn = turn(&anthropic).await.unwrap();
        assert_eq!(turn.stop_reason.as_deref(), Some("max_tokens"));
        assert!(turn.unfinished_tool_use);
        assert!(turn.tool_uses.is_empty());
        assert_eq!(turn.content, vec![ContentBlock::Text { text: "Building your plan".into() }]);
    }

    #[tokio::test]
    async fn refusal_and_pause_turn_stop_reasons_are_reported() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("I can't help with").stop_reason("refusal"));
        anthropic.push(Reply::text("Searching the web").stop_reason("pause_turn"));
        assert_eq!(turn(&anthropic).await.unwrap().stop_reason.as_deref(), Some("refusal"));
        assert_eq!(turn(&anthropic).await.unwrap().stop_reason.as_deref(), Some("pause_turn"));
    }
}

mod retries {
    use super::*;

    async fn outcome(anthropic: &StandIn) -> Result<AssistantTurn, LlmError> {
        turn(anthropic).await
    }

    #[tokio::test]
    async fn a_429_with_retry_after_is_retried_then_succeeds() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::status(429).retry_after(1));
        anthropic.push(Reply::text("After the wait."));
        assert_eq!(outcome(&anthropic).await.unwrap().text(), "After the wait.");
        assert_eq!(anthropic.request_count(), 2);
    }

    #[tokio::test]
    async fn the_spend_limit_429_is_not_retried() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::spend_limit().retry_after(1));
        anthropic.push(Reply::text("never sent"));
        let err = outcome(&anthropic).await.unwrap_err();
        assert!(matches!(err, LlmError::RateLimited { spend_limit: true, .. }), "{err:?}");
        assert!(!err.is_retryable());
        assert_eq!(err.client_error_type(), "rate_limit");
        assert!(err.request_id().is_some_and(|id| id.starts_with("req_")));
        assert_eq!(anthropic.request_count(), 1);
    }

    #[tokio::test]
    async fn two_529s_then_success() {
        let anthropic = StandIn::start().await;
        anthropic.push_all([Reply::overloaded(), Reply::overloaded(), Reply::text("Third time lucky.")]);
        assert_eq!(outcome(&anthropic).await.unwrap().text(), "Third time lucky.");
        assert_eq!(anthropic.request_count(), 3);
    }

    #[tokio::test]
    async fn server_errors_are_retried() {
        let anthropic = StandIn::start().await;
        anthropic.push_all([
            Reply::status(500),
            Reply::status(502).raw_error_body("<html>Bad Gateway</html>"),
            Reply::status(504),
            Reply::text("Recovered."),
        ]);
        assert_eq!(outcome(&anthropic).await.unwrap().text(), "Recovered.");
        assert_eq!(anthropic.request_count(), 4);
    }

    #[tokio::test]
    async fn retries_stop_after_the_configured_maximum() {
        let anthropic = StandIn::start().await;
        anthropic.push_all((0..5).map(|_| Reply::overloaded()));
        let err = outcome(&anthropic).await.unwrap_err();
        assert!(matches!(err, LlmError::Overloaded { .. }), "{err:?}");
        assert_eq!(err.client_error_type(), "api_error");
        assert_eq!(anthropic.request_count(), 4, "one attempt and three retries");
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::status(400).error_message("messages: roles must alternate"));
        anthropic.push(Reply::text("never sent"));
        let err = outcome(&anthropic).await.unwrap_err();
        match &err {
            LlmError::Api { status, error_type, message, request_id } => {
                assert_eq!(*status, Some(400));
                assert_eq!(error_type, "invalid_request_error");
                assert_eq!(message, "messages: roles must alternate");
                assert!(request_id.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(anthropic.request_count(), 1);
    }

    #[tokio::test]
    async fn x_should_retry_false_is_obeyed() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::status(500).header("x-should-retry", "false"));
        assert!(outcome(&anthropic).await.is_err());
        assert_eq!(anthropic.request_count(), 1);
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_cap_is_returned_not_waited() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::status(429).retry_after(3600));
        let err = outcome(&anthropic).await.unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
        assert!(err.is_retryable());
        assert_eq!(anthropic.request_count(), 1);
    }

    #[tokio::test]
    async fn an_error_event_or_a_cut_before_the_first_event_is_retried() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::frames(vec![Frame::raw(
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        )]));
        anthropic.push(Reply::frames(vec![]));
        anthropic.push(Reply::text("Finally."));
        assert_eq!(outcome(&anthropic).await.unwrap().text(), "Finally.");
        assert_eq!(anthropic.request_count(), 3);
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_then_reported() {
        let err = client_for(&config(&closed_port_url().await)).stream(&request("hi"), &meta()).await.unwrap_err();
        assert!(matches!(err, LlmError::Connection(_)), "{err:?}");
        assert_eq!(err.client_error_type(), "api_error");
    }

    #[tokio::test]
    async fn slow_response_headers_time_out_and_are_retried() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("too late").response_delay(Duration::from_secs(3)));
        anthropic.push(Reply::text("in time"));
        let options = ClientOptions { stall_timeout: Duration::from_millis(300), ..fast_options() };
        let client = client(&anthropic).with_options(options);
        let turn = client.stream(&request("hi"), &meta()).await.unwrap().collect_turn().await.unwrap();
        assert_eq!(turn.text(), "in time");
        assert_eq!(anthropic.request_count(), 2);
    }
}

mod failures_after_the_200 {
    use super::*;

    #[tokio::test]
    async fn overloaded_mid_stream_after_text_is_an_error_with_its_type() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("Here is the start of").then_error("overloaded_error", "Overloaded"));
        anthropic.push(Reply::text("not requested: no retry after the 200"));
        let stream = client(&anthropic).stream(&request("hi"), &meta()).await.unwrap();
        let (partial, err) = turn_until_error(stream).await;
        assert_eq!(partial.text(), "Here is the start of");
        let err = err.expect("the stream fails");
        assert!(matches!(err, LlmError::Overloaded { request_id: Some(_) }), "{err:?}");
        assert!(err.is_retryable());
        assert_eq!(err.client_error_type(), "api_error");
        assert_eq!(anthropic.request_count(), 1);
    }

    #[tokio::test]
    async fn mid_stream_errors_keep_anthropics_error_type() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("x").then_error("rate_limit_error", "Slow down"));
        anthropic.push(Reply::text("x").then_error("invalid_request_error", "Prompt is too long"));
        let err = turn(&anthropic).await.unwrap_err();
        assert!(matches!(err, LlmError::RateLimited { spend_limit: false, .. }), "{err:?}");
        assert_eq!(err.client_error_type(), "rate_limit");
        let err = turn(&anthropic).await.unwrap_err();
        match err {
            LlmError::Api { status: None, error_type, message, .. } => {
                assert_eq!(error_type, "invalid_request_error");
                assert_eq!(message, "Prompt is too long");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_stream_cut_without_message_stop_is_stream_ended() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("Half an ans").then_cut());
        let stream = client(&anthropic).stream(&request("hi"), &meta()).await.unwrap();
        let (partial, err) = turn_until_error(stream).await;
        assert!(matches!(err, Some(LlmError::StreamEnded)), "{err:?}");
        assert_eq!(partial.text(), "Half an ans");
    }

    #[tokio::test]
    async fn a_broken_connection_mid_stream_is_a_connection_error() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("Half").then_abort());
        let err = turn(&anthropic).await.unwrap_err();
        assert!(matches!(err, LlmError::Connection(_)), "{err:?}");
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn a_stalled_stream_is_a_timeout() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("Hello").stall_after(3, Duration::from_secs(5)));
        let options = ClientOptions { stall_timeout: Duration::from_millis(200), ..fast_options() };
        let stream = client(&anthropic).with_options(options).stream(&request("hi"), &meta()).await.unwrap();
        let (_, err) = turn_until_error(stream).await;
        assert!(matches!(err, Some(LlmError::Timeout)), "{err:?}");
    }

    #[tokio::test]
    async fn a_slow_but_steady_stream_is_not_a_stall() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("Slow but steady").event_delay(Duration::from_millis(50)));
        let options = ClientOptions { stall_timeout: Duration::from_millis(500), ..fast_options() };
        let turn = client(&anthropic).with_options(options).stream(&request("hi"), &meta()).await.unwrap();
        assert_eq!(turn.collect_turn().await.unwrap().text(), "Slow but steady");
    }

    #[tokio::test]
    async fn a_malformed_event_is_a_decode_error() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::frames(vec![
            Frame::raw("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\n\n"),
            Frame::raw("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        ]));
        let err = turn(&anthropic).await.unwrap_err();
        assert!(matches!(err, LlmError::Decode(_)), "{err:?}");
        assert!(!err.is_retryable());
    }
}

mod request_shape {
    use super::*;

    #[tokio::test]
    async fn auth_version_and_cache_breakpoints_are_sent() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("ok"));
        turn(&anthropic).await.unwrap();
        let sent = anthropic.last_request();
        assert_eq!(sent.header("x-api-key"), Some(API_KEY));
        assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(sent.header("content-type"), Some("application/json"));
        assert!(sent.headers.keys().all(|name| !name.as_str().starts_with("helicone")));
        let body = &sent.body;
        assert_eq!(body["stream"], true);
        assert_eq!(body["model"], MODEL);
        assert_eq!(body["max_tokens"], 4096);
        assert_eq!(
            body["system"],
            json!([{"type":"text","text":"You are a fitness coach.","cache_control":{"type":"ephemeral"}}])
        );
        let tools = body["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 3);
        assert!(tools[..2].iter().all(|t| t.get("cache_control").is_none()));
        assert_eq!(tools[2]["cache_control"], json!({"type":"ephemeral"}));
        assert_eq!(body["messages"], json!([{"role":"user","content":[{"type":"text","text":"hi"}]}]));
    }

    #[tokio::test]
    async fn a_tool_round_trip_is_sent_in_the_api_shape() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("Done."));
        let mut req = request("find legs");
        req.messages.push(ApiMessage {
            role: Role::Assistant,
            content: vec![
                ContentBlock::Thinking { thinking: "t".into(), signature: "s".into() },
                ContentBlock::ToolUse { id: "toolu_1".into(), name: "search_workout_library".into(), input: json!({}) },
                ContentBlock::ToolUse { id: "toolu_2".into(), name: "get_workout_history".into(), input: json!({}) },
            ],
        });
        req.messages.push(ApiMessage {
            role: Role::User,
            content: vec![
                ContentBlock::ToolResult { tool_use_id: "toolu_1".into(), content: "[]".into(), is_error: false },
                ContentBlock::ToolResult { tool_use_id: "toolu_2".into(), content: "boom".into(), is_error: true },
            ],
        });
        client(&anthropic).stream(&req, &meta()).await.unwrap().collect_turn().await.unwrap();
        assert_eq!(
            anthropic.last_request().body["messages"][2]["content"],
            json!([
                {"type":"tool_result","tool_use_id":"toolu_1","content":"[]"},
                {"type":"tool_result","tool_use_id":"toolu_2","content":"boom","is_error":true}
            ])
        );
    }

    #[tokio::test]
    async fn a_request_the_real_api_would_refuse_is_refused() {
        let anthropic = StandIn::start().await;
        anthropic.push(Reply::text("unused"));
        let mut req = request("find legs");
        req.messages.push(ApiMessage {
            role: Role::Assistant,
            content: vec![ContentBlock::ToolUse { id: "toolu_1".into(), name: "x".into(), input: json!({}) }],
        });
        req.messages.push(ApiMessage::user_text("no results given"));
        let err = client(&anthropic).stream(&req, &meta()).await.unwrap_err();
        assert!(
            matches!(&err, LlmError::Api { status: Some(400), message, .. } if message.contains("tool_result")),
            "{err:?}"
        );
        assert_eq!(anthropic.pending_replies(), 1, "an invalid request consumes no scripted reply");
    }

    fn helicone_config(direct_url: &str, helicone_url: &str) -> AnthropicConfig {
        AnthropicConfig {
            helicone_enabled: true,
            helicone_api_key: Some(HELICONE_KEY.to_string()),
            helicone_base_url: helicone_url.to_string(),
            ..config(direct_url)
        }
    }

    #[tokio::test]
    async fn helicone_gets_the_call_with_its_headers_when_enabled() {
        let direct = StandIn::start().await;
        let helicone = StandIn::start().await;
        helicone.push(Reply::text("via proxy"));
        let client = client_for(&helicone_config(&direct.url(), &helicone.url()));
        assert!(client.uses_helicone());
        assert_eq!(client.messages_url(), format!("{}/v1/messages", helicone.url()));
        client.stream(&request("hi"), &meta()).await.unwrap().collect_turn().await.unwrap();

        assert_eq!(direct.request_count(), 0);
        let sent = helicone.last_request();
        assert_eq!(sent.header("helicone-auth"), Some(format!("Bearer {HELICONE_KEY}").as_str()));
        assert_eq!(sent.header("helicone-user-id"), Some("user_2abc"));
        assert_eq!(sent.header("helicone-session-id"), Some("8d7c0e0a-3b8e-4c1e-9f57-0c7c1d5a2f10"));
        assert_eq!(sent.header("helicone-property-environment"), Some("test"));
        assert_eq!(sent.header("helicone-property-request-id"), Some("req-ours-1"));
        assert_eq!(sent.header("x-api-key"), Some(API_KEY));
        assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    }

    #[tokio::test]
    async fn helicone_without_a_session_sends_no_session_header() {
        let helicone = StandIn::start().await;
        helicone.push(Reply::text("ok"));
        let client = client_for(&helicone_config("https://unused.invalid", &helicone.url()));
        let meta = RequestMeta { session_id: None, ..meta() };
        client.stream(&request("hi"), &meta).await.unwrap().collect_turn().await.unwrap();
        assert_eq!(helicone.last_request().header("helicone-session-id"), None);
    }

    #[tokio::test]
    async fn an_unreachable_helicone_is_bypassed_without_its_credentials() {
        let direct = StandIn::start().await;
        direct.push(Reply::text("direct"));
        let client = client_for(&helicone_config(&direct.url(), &closed_port_url().await));
        let turn = client.stream(&request("hi"), &meta()).await.unwrap().collect_turn().await.unwrap();
        assert_eq!(turn.text(), "direct");
        let sent = direct.last_request();
        assert_eq!(sent.header("x-api-key"), Some(API_KEY));
        assert!(sent.headers.keys().all(|name| !name.as_str().starts_with("helicone")));
    }

    #[tokio::test]
    async fn secrets_never_appear_in_errors() {
        let anthropic = StandIn::start().await;
        let leak = format!("invalid x-api-key {API_KEY} / helicone {HELICONE_KEY}");
        anthropic.push(Reply::status(401).error_message(leak.clone()));
        anthropic.push(Reply::status(502).raw_error_body(leak.clone()));
        anthropic.push_all((0..3).map(|_| Reply::status(502).raw_error_body(leak.clone())));
        anthropic.push(Reply::text("x").then_error("api_error", leak.clone()));
        let client = client_for(&helicone_config("https://unused.invalid", &anthropic.url()));
        let mut errors = Vec::new();
        for _ in 0..3 {
            let result = match client.stream(&request("hi"), &meta()).await {
                Ok(stream) => stream.collect_turn().await,
                Err(err) => Err(err),
            };
            errors.push(result.unwrap_err());
        }
        errors.push(client_for(&config(&closed_port_url().await)).stream(&request("hi"), &meta()).await.unwrap_err());
        for err in &errors {
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains(API_KEY) && !shown.contains(HELICONE_KEY), "{shown}");
            }
        }
        assert!(errors[0].to_string().contains("[redacted]"), "{}", errors[0]);
        assert!(matches!(errors[2], LlmError::Api { status: None, .. }), "{:?}", errors[2]);
        assert!(!format!("{client:?}").contains(API_KEY));
    }
}

mod dev_model {
    use super::*;

    #[tokio::test]
    async fn a_request_for_a_search_calls_the_search_tool_then_summarises_its_result() {
        let anthropic = StandIn::builder().dev_model().dev_pace(Duration::ZERO).start().await;
        let client = client(&anthropic);
        let mut req = request("Find me a 30-minute leg workout");
        let first = client.stream(&req, &meta()).await.unwrap().collect_turn().await.unwrap();
        assert!(first.text().starts_with(STAND_IN_LABEL), "{}", first.text());
        assert_eq!(first.stop_reason.as_deref(), Some("tool_use"));
        assert_eq!(first.tool_uses.len(), 1);
        assert_eq!(first.tool_uses[0].name, "search_workout_library");
        assert_eq!(first.tool_uses[0].input, json!({"query":"30-minute leg workout"}));

        req.messages.push(ApiMessage { role: Role::Assistant, content: first.content.clone() });
        req.messages.push(ApiMessage {
            role: Role::User,
            content: vec![ContentBlock::ToolResult {
                tool_use_id: first.tool_uses[0].id.clone(),
                content: json!({"type":"search_results","workouts":[{"title":"Leg Day"},{"title":"Quad Burner"}]})
                    .to_string(),
                is_error: false,
            }],
        });
        let second = client.stream(&req, &meta()).await.unwrap().collect_turn().await.unwrap();
        assert_eq!(second.stop_reason.as_deref(), Some("end_turn"));
        assert!(second.tool_uses.is_empty());
        assert!(
            second.text().contains("search_workout_library returned: 2 workout(s) (Leg Day, Quad Burner)"),
            "{}",
            second.text()
        );
    }

    #[tokio::test]
    async fn tools_not_offered_are_never_called_and_small_talk_gets_a_canned_answer() {
        let anthropic = StandIn::builder().dev_model().dev_pace(Duration::ZERO).start().await;
        let mut req = request("Open the calendar and show my history");
        req.tools = vec![tool("get_workout_history")].into();
        let turn = client(&anthropic).stream(&req, &meta()).await.unwrap().collect_turn().await.unwrap();
        assert_eq!(turn.tool_uses.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["get_workout_history"]);

        let chat = client(&anthropic).stream(&request("How do I squat deeper?"), &meta()).await.unwrap();
        let chat = chat.collect_turn().await.unwrap();
        assert!(chat.text().starts_with(STAND_IN_LABEL) && chat.tool_uses.is_empty(), "{}", chat.text());
    }

    #[tokio::test]
    async fn concurrent_requests_each_get_their_own_answer() {
        let anthropic = StandIn::builder().dev_model().dev_pace(Duration::from_millis(1)).start().await;
        let client = client(&anthropic);
        let turns = futures::future::join_all((0..40).map(|i| {
            let client = client.clone();
            async move {
                let turn = client.stream(&request(&format!("find workout number {i}")), &meta()).await?;
                turn.collect_turn().await.map(|turn| (i, turn))
            }
        }))
        .await;
        for result in turns {
            let (i, turn) = result.unwrap();
            assert_eq!(turn.tool_uses[0].input, json!({"query": format!("workout number {i}")}));
        }
        assert_eq!(anthropic.request_count(), 40);
    }

    #[tokio::test]
    async fn scripted_replies_take_precedence_over_the_dev_model() {
        let anthropic = StandIn::dev_model().await;
        anthropic.push(Reply::text("scripted"));
        assert_eq!(turn(&anthropic).await.unwrap().text(), "scripted");
        assert!(turn(&anthropic).await.unwrap().text().starts_with(STAND_IN_LABEL));
    }
}
