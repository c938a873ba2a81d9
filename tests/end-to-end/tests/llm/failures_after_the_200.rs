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
    // After three events the stream stalls for good: its gate is never opened.
    anthropic.push(Reply::text("Hello").hold_after(3, Gate::new()));
    let options = ClientOptions { stall_timeout: Duration::from_millis(200), ..fast_options() };
    let stream = client(&anthropic).with_options(options).stream(&request("hi"), &meta()).await.unwrap();
    let (_, err) = turn_until_error(stream).await;
    assert!(matches!(err, Some(LlmError::Timeout)), "{err:?}");
}

#[tokio::test]
async fn a_slow_but_steady_stream_is_not_a_stall() {
    let anthropic = StandIn::start().await;
    // Each gap is a twentieth of the stall limit; the whole stream (35 events, 34 gaps) outlasts it.
    let text = "Slow but steady wins the race";
    anthropic.push(Reply::text(text).text_split(Split::Every(1)).event_delay(Duration::from_millis(50)));
    let options = ClientOptions { stall_timeout: Duration::from_secs(1), ..fast_options() };
    let started = std::time::Instant::now();
    let turn = client(&anthropic).with_options(options).stream(&request("hi"), &meta()).await.unwrap();
    assert_eq!(turn.collect_turn().await.unwrap().text(), text);
    assert!(started.elapsed() > Duration::from_secs(1), "the stream lasted longer than the stall limit");
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
