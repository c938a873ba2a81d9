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
    // The first response never comes (its gate is never opened); the retry's comes at once, far
    // within the stall limit.
    anthropic.push(Reply::text("too late").hold_headers_until(Gate::new()));
    anthropic.push(Reply::text("in time"));
    let options = ClientOptions { stall_timeout: Duration::from_secs(2), ..fast_options() };
    let client = client(&anthropic).with_options(options);
    let turn = client.stream(&request("hi"), &meta()).await.unwrap().collect_turn().await.unwrap();
    assert_eq!(turn.text(), "in time");
    assert_eq!(anthropic.request_count(), 2);
}
