//! `kill -9` of the instance running a turn (#12 item 4): two `chat-api` processes share Postgres
//! and Redis; the one running the turn is killed mid-reply. Within the lease plus five seconds the
//! other has persisted the text the user had seen as an incomplete reply (refunding the quota unit
//! when no text had reached the user), and a client resuming on it gets the terminal `error`.

use std::time::{Duration, Instant};

use end_to_end::redis_server::{SHARED_REDIS_URL, unique_prefix};
use end_to_end::server::{TEST_AUTH_SECRET, as_test_user};
use end_to_end::sse_client::{LiveStream, read_stream};
use stand_ins::anthropic::{Reply, Split, StandIn};
use stand_ins::gate::Gate;
use store::{Period, Store, StoreOptions};

use super::*;

const LEASE_SECONDS: u64 = 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_instance_running_a_turn_is_recovered_by_the_other() {
    use sqlx::Connection;
    let url = store::testing::postgres_url();
    let schema = format!("crash_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.unwrap();
    let database_url = format!("{url}?options[search_path]={schema}");
    let anthropic = StandIn::start().await;
    let (anthropic_url, prefix) = (anthropic.url(), unique_prefix("crash"));
    let plugins = tempfile::tempdir().unwrap();
    let plugins_dir = plugins.path().to_string_lossy().into_owned();
    let lease = LEASE_SECONDS.to_string();
    let vars = [
        ("ENVIRONMENT", "test"),
        ("TEST_AUTH_SECRET", TEST_AUTH_SECRET),
        ("DATABASE_URL", database_url.as_str()),
        ("ANTHROPIC_BASE_URL", anthropic_url.as_str()),
        ("ANTHROPIC_API_KEY", "sk-ant-crash-test"),
        ("PLUGINS_DIR", plugins_dir.as_str()),
        ("PLUGINS_WATCH", "false"),
        ("REDIS_URL", SHARED_REDIS_URL),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("TURN_LEASE_SECONDS", lease.as_str()),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut doomed = Service::start(dir_a.path(), &vars).await;
    ready(&doomed).await;
    let survivor = Service::start(dir_b.path(), &vars).await;
    ready(&survivor).await;
    let db = Store::connect(&StoreOptions {
        url: url.clone(),
        max_connections: 2,
        run_migrations: false,
        schema: Some(schema.clone()),
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();

    // Two turns run on the doomed instance: one has shown text, one nothing yet.
    anthropic
        .push(Reply::text("Seen before the crash. Never seen.").text_split(Split::Every(6)).hold_after(5, Gate::new()));
    let (seer, waiter) = ("user_crash_seer", "user_crash_waiter");
    let chat = |user: &str, text: &str| {
        as_test_user(client.post(doomed.url("/chat/stream")), user).json(&serde_json::json!({"message": text}))
    };
    let mut seen_stream = LiveStream::open(chat(seer, "Tell me"), PATIENCE);
    let seen = seen_stream.wait_until("some text", |t| t.all("content_delta").len() >= 2).await;
    anthropic.push(Reply::text("Nothing reaches the user.").hold_headers_until(Gate::new()));
    let mut blind_stream = LiveStream::open(chat(waiter, "Anyone?"), PATIENCE);
    let blind = blind_stream.wait_until("message_start", |t| t.first("message_start").is_some()).await;
    // The stand-in got the second turn's request: both turns are running.
    poll_until(PATIENCE, "both Claude requests", async || {
        if anthropic.requests().len() >= 2 { Ok(()) } else { Err(format!("{}", anthropic.requests().len())) }
    })
    .await;

    doomed.child.start_kill().expect("kill -9");
    doomed.child.wait().await.expect("the process is gone");
    let killed = Instant::now();
    let turn_of = |t: &end_to_end::sse_client::SseTranscript| {
        t.first("message_start").unwrap().data["turn_id"].as_str().unwrap().to_string()
    };
    let session_of = |t: &end_to_end::sse_client::SseTranscript| {
        uuid::Uuid::parse_str(t.first("message_start").unwrap().data["session_id"].as_str().unwrap()).unwrap()
    };

    // Within the lease plus five seconds, the survivor persisted what the user had seen.
    let within = Duration::from_secs(LEASE_SECONDS + 5);
    let seen_text = seen.text();
    let session = session_of(&seen);
    let reply = poll_until(within, "the seen text persisted by the survivor", async || {
        let rows = db.message_page(session, 50, None).await.map_err(|e| e.to_string())?.messages;
        rows.into_iter().find(|r| r.role == "assistant").ok_or_else(|| "no reply yet".to_string())
    })
    .await;
    assert!(killed.elapsed() <= within);
    assert!(reply.content.as_deref().unwrap_or_default().starts_with(&seen_text), "{reply:?}");
    assert!(reply.incomplete);
    let period = Period::of(chrono::Utc::now());
    assert_eq!(db.message_usage(seer, period).await.unwrap(), 1, "text reached the user: the unit is spent");
    poll_until(within, "the unseen turn refunded", async || {
        let usage = db.message_usage(waiter, period).await.map_err(|e| e.to_string())?;
        if usage == 0 { Ok(()) } else { Err(format!("usage {usage}")) }
    })
    .await;
    assert!(
        db.message_page(session_of(&blind), 50, None).await.unwrap().messages.iter().all(|r| r.role != "assistant"),
        "nothing was seen, nothing is persisted as a reply"
    );

    // A client resuming on the survivor gets the rest and ends with the terminal event.
    for (user, transcript) in [(seer, &seen), (waiter, &blind)] {
        let turn = turn_of(transcript);
        let last = transcript.events.last().unwrap().id.clone().unwrap();
        let request = as_test_user(client.get(survivor.url(&format!("/chat/turns/{turn}/events"))), user)
            .header("Last-Event-ID", last);
        let rest = read_stream(request, PATIENCE).await.unwrap();
        let end = rest.events.last().unwrap_or_else(|| panic!("{user}: no terminal event"));
        assert_eq!(end.event, "error");
        assert_eq!(end.data["type"], "service_unavailable");
        if user == seer {
            // Exactly the text the user saw (before the kill and on resuming) is the persisted reply.
            assert_eq!(reply.content.clone().unwrap_or_default(), transcript.text() + &rest.text());
        }
    }
    drop(seen_stream);
    drop(blind_stream);
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin).await.unwrap();
}
