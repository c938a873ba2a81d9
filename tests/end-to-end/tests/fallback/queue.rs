//! The queue of Claude calls (#15 item 6): a burst of 100 turns against an Anthropic that allows
//! 10 concurrent requests (and answers an 11th with a 429) waits in line instead: every client
//! gets its answer, none a rate-limit error. Once with one instance bounded to 10 calls, once with
//! two instances sharing a budget of 10 through the local Redis. The answers are held until ten
//! requests are in flight, so the line is certainly full while the rest wait.

use std::time::Duration;

use end_to_end::poll::poll_until;
use end_to_end::server::{TestServer, as_test_user};
use end_to_end::sse_client::read_stream;
use serde_json::json;
use stand_ins::anthropic::{Reply, StandIn};
use stand_ins::gate::Gate;
use store::testing::TestDatabase;

const TURNS: usize = 100;
const ALLOWED: usize = 10;
const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// An Anthropic that allows [`ALLOWED`] concurrent requests, each answer held at the gate.
async fn limited_anthropic() -> (StandIn, Gate) {
    let held = Gate::new();
    let anthropic = StandIn::builder()
        .max_concurrent(ALLOWED)
        .repeat(Reply::text("Your turn came.").hold_headers_until(held.clone()))
        .start()
        .await;
    (anthropic, held)
}

/// An instance of the service on `anthropic`, where a 429 would reach the client at once (no
/// retries, no fallback).
async fn instance(anthropic: &StandIn, api_key: &str, extra: &[(&str, &str)]) -> TestServer {
    let url = anthropic.url();
    let mut vars = vec![
        ("ANTHROPIC_BASE_URL", url.as_str()),
        ("ANTHROPIC_API_KEY", api_key),
        ("ANTHROPIC_MAX_RETRIES", "0"),
        ("LLM_FALLBACK", "off"),
        ("ANTHROPIC_QUEUE_WAIT_SECONDS", "600"),
    ];
    vars.extend_from_slice(extra);
    TestServer::start(&vars, TestDatabase::sqlite().await.expect("database")).await.expect("server starts")
}

/// Sends [`TURNS`] turns spread over `instances`, lets the held answers go once ten requests are in
/// flight, and checks that every turn got its answer and Anthropic never saw more than ten at once.
async fn burst(anthropic: &StandIn, held: &Gate, instances: &[&TestServer]) {
    let client = reqwest::Client::new();
    let turns: Vec<_> = (0..TURNS)
        .map(|i| {
            let server = instances[i % instances.len()];
            let request = as_test_user(client.post(server.url("/chat/stream")), &format!("user_queue_{i:03}"))
                .json(&json!({"message": "hi"}));
            tokio::spawn(read_stream(request, Duration::from_secs(120)))
        })
        .collect();

    // Ten calls reach Anthropic and are held there (a request is recorded a moment before it is
    // counted in flight); the other ninety wait in line.
    anthropic.wait_for_requests(ALLOWED, Duration::from_secs(60)).await;
    poll_until(Duration::from_secs(60), "ten answers in flight", async || match anthropic.peak_concurrency() {
        ALLOWED => Ok(()),
        peak => Err(format!("{peak} in flight")),
    })
    .await;
    held.open();

    for turn in turns {
        let t = turn.await.unwrap().expect("stream reads");
        assert_eq!(t.shape(), ["message_start", "content_delta", "message_end"], "{:?}", t.events);
    }
    assert_eq!(anthropic.refused_over_limit(), 0, "no call went over Anthropic's limit");
    assert_eq!(anthropic.peak_concurrency(), ALLOWED);
    assert_eq!(anthropic.request_count(), TURNS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_turns_waits_for_free_slots_instead_of_hitting_429s() {
    let (anthropic, held) = limited_anthropic().await;
    let server = instance(&anthropic, "sk-ant-queue-suite", &[("ANTHROPIC_MAX_CONCURRENT_CALLS", "10")]).await;
    let queue_waits = || server.state.turn_deps.llm.queue().available();
    burst(&anthropic, &held, &[&server]).await;
    assert_eq!(queue_waits(), ALLOWED, "every slot was given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_budget_through_redis() {
    let (anthropic, held) = limited_anthropic().await;
    // The budget is named after the Anthropic key: a key of its own keeps this test's budget apart.
    let key = format!("sk-ant-queue-redis-{}", uuid::Uuid::new_v4().simple());
    let shared = [
        ("REDIS_URL", REDIS_URL),
        ("ANTHROPIC_SHARED_MAX_CALLS", "10"),
        // Each instance alone would send 10: only the shared budget keeps the two at 10 together.
        ("ANTHROPIC_MAX_CONCURRENT_CALLS", "10"),
    ];
    let first = instance(&anthropic, &key, &shared).await;
    let second = instance(&anthropic, &key, &shared).await;
    burst(&anthropic, &held, &[&first, &second]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_leaves_each_instance_its_own_bound() {
    let (anthropic, held) = limited_anthropic().await;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("redis://{closed}");
    let server = instance(
        &anthropic,
        "sk-ant-queue-no-redis",
        &[("REDIS_URL", url.as_str()), ("ANTHROPIC_MAX_CONCURRENT_CALLS", "10")],
    )
    .await;
    burst(&anthropic, &held, &[&server]).await;
}
