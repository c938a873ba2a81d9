//! Resume on the other instance: exactly the events after the client's last one, then the live
//! ones, none missing and none twice, byte for byte what an uncut stream carried.

use futures::StreamExt;
use stand_ins::anthropic::{Reply, Split};
use stand_ins::gate::Gate;

use super::*;

const TURNS: usize = 200;
/// Turns in flight at once (each of its own user: the per-user cap is not what is tested here).
const IN_FLIGHT: usize = 8;

fn long_reply() -> Reply {
    let text = "Here is a plan for your week: squats, lunges, a long easy run, some intervals, and rest. Grüße 💪";
    Reply::text(text).text_split(Split::Every(6)).usage(42, 17)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_turns_cut_at_random_points_resume_on_the_other_instance_without_loss_or_duplicate() {
    let cluster = Cluster::two("resume_many", &[]).await;
    // The uncut run: the shape every resumed turn must have.
    cluster.anthropic.push(long_reply());
    let uncut = cluster.chat(cluster.a(), &user("uncut"), message("Plan my week")).await;
    assert_eq!(uncut.names().last(), Some(&"message_end"));
    let expected_ids: Vec<u64> = (1..=uncut.events.len() as u64).collect();
    let events_per_turn = uncut.events.len();
    assert!(events_per_turn > 10, "enough events to cut at many points: {:?}", uncut.names());

    for _ in 0..TURNS {
        cluster.anthropic.push(long_reply());
    }
    // Random cut points (UUIDs are the random source at hand), each leaving at least one event.
    let cuts: Vec<usize> =
        (0..TURNS).map(|_| 1 + (Uuid::new_v4().as_u128() % (events_per_turn as u128 - 1)) as usize).collect();
    let (cluster, uncut, expected_ids) = (&cluster, &uncut, &expected_ids);
    let outcomes: Vec<(usize, String)> = futures::stream::iter(cuts)
        .map(|cut| async move {
            let user = user("resume_many");
            // The client reads `cut` events and goes away.
            let request = cluster.chat_request(cluster.a(), &user, message("Plan my week"));
            let first = end_to_end::sse_client::read_stream_until(request, PATIENCE, |t| t.events.len() >= cut)
                .await
                .expect("the first part reads");
            // A read may bring several events at once: the cut is where the client really stopped.
            let cut = first.events.len();
            let turn = turn_of(&first);
            // It comes back on the other instance with the last id it saw.
            let rest = cluster.resume(cluster.b(), &user, &turn, &last_id(&first)).await;
            assert_eq!(rest.status, 200);
            // Byte for byte: the two parts are the whole turn as the log replays it from the start.
            let whole = read_stream(cluster.resume_request(cluster.b(), &user, &turn), PATIENCE).await.unwrap();
            let mut joined = raw_events(&first, cut);
            joined.extend(raw_without_pings(&rest));
            assert_eq!(
                String::from_utf8_lossy(&joined),
                String::from_utf8_lossy(&raw_without_pings(&whole)),
                "cut after {cut}"
            );
            let seqs: Vec<u64> = ids(&first)
                .into_iter()
                .chain(ids(&rest))
                .map(|id| {
                    let (id_turn, seq) = id.rsplit_once(':').expect("<turn>:<seq>");
                    assert_eq!(id_turn, turn);
                    seq.parse().expect("a sequence number")
                })
                .collect();
            assert_eq!(&seqs, expected_ids, "cut after {cut}: every event once, in order");
            let mut names = first.names();
            names.extend(rest.names());
            assert_eq!(names, uncut.names(), "cut after {cut}");
            assert_eq!(first.text() + &rest.text(), uncut.text());
            (cut, turn)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    assert_eq!(outcomes.len(), TURNS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_stream_follows_a_running_turn_live_until_its_end() {
    let cluster = Cluster::two("resume_live", &[]).await;
    let gate = Gate::new();
    cluster
        .anthropic
        .push(Reply::text("Warm up first, then squats.").text_split(Split::Every(5)).hold_after(4, gate.clone()));
    let user = user("resume_live");
    let first = end_to_end::sse_client::read_stream_until(
        cluster.chat_request(cluster.a(), &user, message("Legs?")),
        PATIENCE,
        |t| t.first("content_delta").is_some(),
    )
    .await
    .unwrap();
    let turn = turn_of(&first);
    let mut resumed = LiveStream::open(
        cluster.resume_request(cluster.b(), &user, &turn).header("Last-Event-ID", last_id(&first)),
        PATIENCE,
    );
    // Whatever was logged after the cut arrives, and the rest once the model goes on.
    gate.open();
    resumed.wait_until("message_end", |t| t.first("message_end").is_some()).await;
    let rest = resumed.finish().await.unwrap();
    assert_eq!(first.text() + &rest.text(), "Warm up first, then squats.");
    assert_eq!(rest.names().last(), Some(&"message_end"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_is_the_same_as_last_event_id_and_zero_replays_everything() {
    let cluster = Cluster::two("resume_after", &[]).await;
    cluster.anthropic.push(long_reply());
    let user = user("resume_after");
    let whole = cluster.chat(cluster.a(), &user, message("Plan")).await;
    let turn = turn_of(&whole);
    let replay = read_stream(cluster.resume_request(cluster.b(), &user, &turn), PATIENCE).await.unwrap();
    assert_eq!(raw_without_pings(&replay), raw_without_pings(&whole), "a replay from the start is the stream itself");
    let after_three =
        read_stream(cluster.b().get_as(&user, &format!("/chat/turns/{turn}/events?after=3")), PATIENCE).await.unwrap();
    assert_eq!(ids(&after_three), ids(&whole)[3..].to_vec());
    let header = cluster.resume(cluster.b(), &user, &turn, &format!("{turn}:3")).await;
    assert_eq!(raw_without_pings(&header), raw_without_pings(&after_three));
    // After the last event: nothing more, and the stream ends at once.
    let done = cluster.resume(cluster.b(), &user, &turn, &last_id(&whole)).await;
    assert!(done.events.is_empty(), "{:?}", done.names());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_another_users_or_another_turns_events_is_refused() {
    let cluster = Cluster::two("resume_refused", &[]).await;
    cluster.anthropic.push(Reply::text("One."));
    cluster.anthropic.push(Reply::text("Two."));
    let (alice, bob) = (user("alice"), user("bob"));
    let first = cluster.chat(cluster.a(), &alice, message("One")).await;
    let second = cluster.chat(cluster.a(), &alice, message("Two")).await;
    let (turn, other_turn) = (turn_of(&first), turn_of(&second));

    // Another user's turn does not exist for them, on either instance.
    for on in [cluster.a(), cluster.b()] {
        let (status, body) = read_json(cluster.resume_request(on, &bob, &turn).send().await.unwrap()).await;
        assert_eq!((status.as_u16(), body), (404, json!({"detail": "Turn not found."})));
        assert_eq!(cluster.stop(on, &bob, &turn).await.0, 404);
    }
    // An id of another turn is refused, not mapped onto this one.
    let request = cluster.resume_request(cluster.b(), &alice, &turn).header("Last-Event-ID", last_id(&second));
    let (status, body) = read_json(request.send().await.unwrap()).await;
    assert_eq!(status.as_u16(), 422, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["header", "Last-Event-ID"]));
    assert_ne!(turn, other_turn);
    // Malformed and hostile ids.
    for bad in ["not-a-turn", "*", "00000000000000000000000000000000", &turn.to_uppercase()] {
        let (status, _) = read_json(cluster.resume_request(cluster.b(), &alice, bad).send().await.unwrap()).await;
        assert_eq!(status.as_u16(), 404, "{bad}");
    }
    for bad in [format!("{turn}:x"), "garbage".to_string(), format!("{turn}:-1")] {
        let request = cluster.resume_request(cluster.b(), &alice, &turn).header("Last-Event-ID", bad.as_str());
        assert_eq!(request.send().await.unwrap().status().as_u16(), 422, "{bad}");
    }
    let request = cluster.b().get_as(&alice, &format!("/chat/turns/{turn}/events?after=many"));
    assert_eq!(request.send().await.unwrap().status().as_u16(), 422);
    // Without credentials: the usual 401.
    let anonymous = cluster.b().client().get(cluster.b().url(&format!("/chat/turns/{turn}/events")));
    assert_eq!(anonymous.send().await.unwrap().status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_retention_window_a_turn_is_gone_and_its_reply_is_in_the_history() {
    let cluster = Cluster::two("resume_gone", &[("TURN_EVENTS_RETENTION_SECONDS", "1")]).await;
    cluster.anthropic.push(Reply::text("Kept in history."));
    let user = user("resume_gone");
    let t = cluster.chat(cluster.a(), &user, message("Hi")).await;
    let turn = turn_of(&t);
    let body = end_to_end::poll::poll_until(PATIENCE, "the turn's events to expire", async || {
        let response = cluster.resume_request(cluster.b(), &user, &turn).send().await.unwrap();
        if response.status().as_u16() != 410 {
            return Err(format!("{} (still kept)", response.status()));
        }
        Ok(read_json(response).await.1)
    })
    .await;
    assert!(body["detail"].as_str().unwrap().contains("session's messages"), "{body}");
    // Stopping it is a no-op.
    assert_eq!(
        cluster.stop(cluster.b(), &user, &turn).await,
        (reqwest::StatusCode::OK, json!({"turn_id": turn, "status": "finished"}))
    );
    let rows = cluster.rows(session_of(&t)).await;
    assert_eq!(rows.last().unwrap().content.as_deref(), Some("Kept in history."));
}
