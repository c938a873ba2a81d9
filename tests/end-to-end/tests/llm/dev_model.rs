use super::*;

#[tokio::test]
async fn a_request_for_a_search_calls_the_search_tool_then_summarises_its_result() {
    let anthropic = StandIn::builder().dev_model().dev_pace(Duration::ZERO).start().await;
    let client = client(&anthropic);
    let mut req = request("Find me a 30-minute leg workout");
    let first = client.stream(&req, &meta()).await.unwrap().collect_turn().await.unwrap();
    assert!(first.text().starts_with(STAND_IN_LABEL), "{}", first.text());
    assert_eq!(first.stop_reason, Some(StopReason::parse("tool_use")));
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
    assert_eq!(second.stop_reason, Some(StopReason::parse("end_turn")));
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
