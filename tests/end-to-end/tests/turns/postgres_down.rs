//! Postgres unreachable for a few seconds mid-turn (a TCP proxy cut in between) and back: turns in
//! flight end with a clear error or complete, every user message that got a `message_start` is in
//! history afterwards, readiness reports the outage, and chat works again once it is over.

use stand_ins::anthropic::{Reply, Split};
use stand_ins::gate::Gate;

use super::*;

async fn postgres_unreachable_mid_turn(shared: Shared, test: &str) {
    let cluster =
        Cluster::start(test, shared, 1, Backend::Postgres, &[], Options { postgres_proxy: true, ..Options::default() })
            .await;
    let proxy = cluster.postgres.as_ref().expect("a proxy");
    let held = Gate::new();
    cluster.anthropic.push(Reply::text("Through the outage.").text_split(Split::Every(5)).hold_after(3, held.clone()));
    let user = user(test);
    let mut running = cluster.open(cluster.a(), &user, message("During the outage"));
    let seen = running.wait_until("some text", |t| t.first("content_delta").is_some()).await;
    let session = session_of(&seen);

    proxy.cut();
    let (status, body) =
        read_json(cluster.a().client().get(cluster.a().url("/health/ready")).send().await.unwrap()).await;
    assert_eq!(status.as_u16(), 503, "{body}");
    assert_eq!(body["checks"]["supabase"], "unavailable");
    held.open();
    let t = running.finish().await.unwrap();
    let last = t.events.last().expect("a last event");
    assert!(
        last.event == "message_end" || (last.event == "error" && last.data["type"] == "internal_error"),
        "a clear ending: {:?}",
        t.events
    );

    proxy.restore();
    end_to_end::poll::poll_until(PATIENCE, "readiness once the database is back", async || {
        let response = cluster.a().client().get(cluster.a().url("/health/ready")).send().await;
        match response {
            Ok(r) if r.status() == 200 => Ok(()),
            Ok(r) => Err(r.status().to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    let rows = cluster.rows(session).await;
    assert!(
        rows.iter().any(|r| r.role == "user" && r.content.as_deref() == Some("During the outage")),
        "the user message that got a message_start is in history: {rows:?}"
    );
    cluster.anthropic.push(Reply::text("All good."));
    let after = cluster.chat(cluster.a(), &user, json!({"message": "Back?", "session_id": session})).await;
    assert_eq!(after.names().last(), Some(&"message_end"), "{:?}", after.events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "unfinished: the turn ends right after message_start through the proxy (not yet diagnosed)"]
async fn postgres_unreachable_mid_turn_with_redis() {
    postgres_unreachable_mid_turn(Shared::Redis(SHARED_REDIS_URL.to_string()), "pg_down_redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "unfinished: the turn ends right after message_start through the proxy (not yet diagnosed)"]
async fn postgres_unreachable_mid_turn_without_redis() {
    postgres_unreachable_mid_turn(Shared::InProcess, "pg_down_solo").await;
}
