//! Redis going away is a degraded mode, never an outage: a turn in flight completes and is
//! persisted, new turns run, readiness stays 200 and says Redis is unavailable; once Redis is back
//! (empty: it kept nothing), resume works again for new turns.

use end_to_end::redis_server::PrivateRedis;
use stand_ins::anthropic::{Reply, Split};
use stand_ins::gate::Gate;

use super::*;

async fn ready(on: &TestServer) -> (u16, Value) {
    let (status, body) = read_json(on.client().get(on.url("/health/ready")).send().await.unwrap()).await;
    (status.as_u16(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_and_restarted_loses_nothing() {
    let mut redis = PrivateRedis::start().await;
    let cluster =
        Cluster::start("redis_down", Shared::Redis(redis.url()), 2, Backend::Postgres, &[], Options::default()).await;
    assert_eq!(ready(cluster.a()).await.1["checks"]["redis"], "ok");

    // A turn is running when Redis goes away.
    let held = Gate::new();
    cluster
        .anthropic
        .push(Reply::text("Before and after the outage.").text_split(Split::Every(6)).hold_after(4, held.clone()));
    let user = user("redis_down");
    let mut running = cluster.open(cluster.a(), &user, message("Go"));
    running.wait_until("some text", |t| t.first("content_delta").is_some()).await;
    redis.stop().await;
    held.open();
    let t = running.finish().await.unwrap();
    assert_eq!(t.names().last(), Some(&"message_end"), "the turn completes: {:?}", t.names());
    assert_eq!(t.text(), "Before and after the outage.");
    let rows = cluster.rows(session_of(&t)).await;
    assert_eq!(rows.last().unwrap().content.as_deref(), Some("Before and after the outage."), "nothing lost");

    // Readiness reports it but stays 200 (pulling every instance would be the outage).
    let (status, body) = ready(cluster.b()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["checks"]["redis"].as_str().unwrap().starts_with("unavailable"), "{body}");
    // Chat goes on while Redis is down, on both instances.
    for on in [cluster.a(), cluster.b()] {
        cluster.anthropic.push(Reply::text("Still here."));
        let t = cluster.chat(on, &user, message("Still there?")).await;
        assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.events);
        // Resuming needs the log: a clear 503, not a hang.
        let (status, body) = read_json(cluster.resume_request(on, &user, &turn_of(&t)).send().await.unwrap()).await;
        assert_eq!(status.as_u16(), 503, "{body}");
    }

    // Redis comes back: readiness says so, and new turns resume on the other instance again.
    redis.restart().await;
    end_to_end::poll::poll_until(PATIENCE, "readiness to report Redis back", async || {
        let (_, body) = ready(cluster.a()).await;
        if body["checks"]["redis"] == "ok" { Ok(()) } else { Err(body.to_string()) }
    })
    .await;
    cluster.anthropic.push(Reply::text("Back to normal.").text_split(Split::Every(4)));
    let whole = cluster.chat(cluster.a(), &user, message("Back?")).await;
    let turn = turn_of(&whole);
    let rest = cluster.resume(cluster.b(), &user, &turn, &format!("{turn}:1")).await;
    assert_eq!(ids(&rest), ids(&whole)[1..].to_vec());
}
