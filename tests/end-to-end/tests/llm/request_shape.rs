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
    assert!(sent.headers.iter().all(|(name, _)| !name.starts_with("helicone")));
    let body = &sent.json();
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
        anthropic.last_request().json()["messages"][2]["content"],
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
        helicone_api_key: Some(HELICONE_KEY.into()),
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
    assert!(sent.headers.iter().all(|(name, _)| !name.starts_with("helicone")));
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
