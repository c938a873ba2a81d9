//! The per-user cap on running turns (`CONCURRENT_TURNS_PER_USER`) holds across instances.

use stand_ins::anthropic::Reply;
use stand_ins::gate::Gate;

use super::*;

pub(super) async fn the_cap_holds_across_instances(cluster: &Cluster) {
    let held = Gate::new();
    cluster.anthropic.push(Reply::text("Slow answer.").hold_after(3, held.clone()));
    let user = user("cap");
    let mut running = cluster.open(cluster.a(), &user, message("First"));
    running.wait_until("the first turn to run", |t| t.first("message_start").is_some()).await;
    // A second turn of the same user, on the other instance, is refused like the original did.
    let refused = cluster.chat(cluster.b(), &user, message("Second")).await;
    assert_eq!(refused.names(), ["error"], "{:?}", refused.events);
    assert_eq!(refused.events[0].data["type"], "rate_limit");
    // Other users are not affected.
    cluster.anthropic.push(Reply::text("Hi."));
    let other = cluster.chat(cluster.b(), &super::user("cap_other"), message("Hi")).await;
    assert_eq!(other.names().last(), Some(&"message_end"));
    // Once the first turn ends its slot is free on every instance.
    held.open();
    running.finish().await.unwrap();
    cluster.anthropic.push(Reply::text("Now."));
    let after = end_to_end::poll::poll_until(PATIENCE, "the slot to come back", async || {
        let t = cluster.chat(cluster.b(), &user, message("Third")).await;
        if t.first("message_end").is_some() { Ok(t) } else { Err(format!("{:?}", t.events)) }
    })
    .await;
    assert_eq!(after.text(), "Now.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_user_cap_holds_across_instances() {
    let cluster = Cluster::two("cap", &[("CONCURRENT_TURNS_PER_USER", "1")]).await;
    the_cap_holds_across_instances(&cluster).await;
}
