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
    assert!(has(|e| matches!(e, StreamEvent::SignatureDelta { index: 0, signature } if signature == "EqQBCgIYAhIM")));
    assert!(has(|e| matches!(e, StreamEvent::TextDelta { index: 2, .. })));
    assert!(has(|e| matches!(e, StreamEvent::InputJsonDelta { index: 3, .. })));
    assert_eq!(events.iter().filter(|e| matches!(e, StreamEvent::ContentBlockStop { .. })).count(), 4);
    assert_eq!(
        events[events.len() - 2],
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            usage: host::llm::UsageDelta {
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
        events.into_iter().map(|e| format!("{:?}", e.unwrap()).split([' ', '{']).next().unwrap().to_string()).collect()
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
    let expected =
        Usage { input_tokens: 1200, output_tokens: 87, cache_creation_input_tokens: 30, cache_read_input_tokens: 4000 };
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
    assert_eq!(turn.stop_reason, Some(StopReason::parse("tool_use")));
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
    assert_eq!(turn.stop_reason, Some(StopReason::parse("max_tokens")));
    assert!(turn.unfinished_tool_use);
    assert!(turn.tool_uses.is_empty());
    assert_eq!(turn.content, vec![ContentBlock::Text { text: "Building your plan".into() }]);
}

#[tokio::test]
async fn refusal_and_pause_turn_stop_reasons_are_reported() {
    let anthropic = StandIn::start().await;
    anthropic.push(Reply::text("I can't help with").stop_reason("refusal"));
    anthropic.push(Reply::text("Searching the web").stop_reason("pause_turn"));
    assert_eq!(turn(&anthropic).await.unwrap().stop_reason, Some(StopReason::parse("refusal")));
    assert_eq!(turn(&anthropic).await.unwrap().stop_reason, Some(StopReason::parse("pause_turn")));
}
