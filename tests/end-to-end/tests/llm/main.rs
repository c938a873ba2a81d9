//! The Anthropic client against the stand-in Anthropic over real HTTP on loopback: what it sends,
//! how it reads every kind of event, how it retries before the first byte, and how each failure
//! after the HTTP 200 surfaces. The stand-in speaks the wire format byte for byte.

use std::time::Duration;

use futures::StreamExt;
use host::config::AnthropicConfig;
use host::llm::{
    AnthropicClient, ApiMessage, AssistantTurn, BlockStart, ClientOptions, ContentBlock, LlmError, MessageAccumulator,
    MessageStream, MessagesRequest, RequestMeta, RetryPolicy, Role, StopReason, StreamEvent, ToolDef, Usage,
};
use serde_json::{Value, json};
use stand_ins::anthropic::{Chunking, Frame, Reply, STAND_IN_LABEL, Split, StandIn};
use stand_ins::gate::Gate;

const API_KEY: &str = "sk-ant-test-3f9c2b7d-never-show-me";
const HELICONE_KEY: &str = "sk-helicone-test-81ac-never-show-me";
const MODEL: &str = "claude-test-model";

fn config(base_url: &str) -> AnthropicConfig {
    AnthropicConfig {
        api_key: Some(API_KEY.into()),
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

mod events;

mod retries;

mod failures_after_the_200;

mod request_shape;

mod dev_model;
