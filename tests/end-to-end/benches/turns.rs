//! Turns that survive (#12), the figures of the closing note:
//!
//! - **event-log lag**: what appending one `content_delta` to its turn's log on Redis adds before the
//!   event is sent (the sink awaits exactly this append), with 100 streams appending at once; p50/p99
//!   per delta, and the in-memory log for comparison;
//! - **stop latency**: from `POST /chat/turns/{turn_id}/stop` on one instance to the connection to
//!   Claude closing on the other (a server in the middle of a streamed reply notices the close), p99;
//! - **resume latency**: from `GET /chat/turns/{turn_id}/events` with `Last-Event-ID` on the other
//!   instance to the first replayed event's bytes, p99.
//!
//! Two in-process instances over one Postgres database and the local Redis (`make redis`); the
//! benchmark, Redis and Postgres are three processes sharing the machine's cores.
//! `cargo bench -p end-to-end --bench turns`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use end_to_end::hanging_server::HangingServer;
use end_to_end::redis_server::{SHARED_REDIS_URL, unique_prefix};
use end_to_end::server::{TestServer, as_test_user};
use end_to_end::sse_client::{LiveStream, read_stream};
use futures::StreamExt;
use hdrhistogram::Histogram;
use host::config::TurnsConfig;
use host::live::Live;
use host::live::event_log::{LoggedEvent, TurnRecord};
use stand_ins::anthropic::{Reply, Split, StandIn};
use store::testing::TestDatabase;
use store::{Backend, Store};

const STREAMS: usize = 100;
const DELTAS_PER_STREAM: u64 = 200;
const STOPS: usize = 200;
const RESUMES: usize = 200;
const PATIENCE: Duration = Duration::from_secs(60);

fn report(what: &str, h: &Histogram<u64>) {
    let ms = |v: u64| v as f64 / 1000.0;
    println!(
        "{what:<44} n={:<6} p50={:>7.3} ms  p99={:>7.3} ms  max={:>7.3} ms",
        h.len(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
}

/// 100 turns appending deltas at once, each append timed.
async fn append_latency(redis_url: Option<&str>) -> Histogram<u64> {
    let config = TurnsConfig {
        redis_url: redis_url.map(Into::into),
        redis_key_prefix: unique_prefix("bench_append"),
        event_retention: Duration::from_secs(60),
        lease: Duration::from_secs(10),
    };
    let live = Live::new(&config, 3).expect("the shared state");
    let tasks = (0..STREAMS).map(|i| {
        let log = live.log.clone();
        tokio::spawn(async move {
            let turn = format!("{:032x}", i);
            let record = TurnRecord {
                user_id: format!("user_{i}"),
                session_id: uuid::Uuid::new_v4(),
                period: "2026-12".to_string(),
                done: false,
            };
            log.open(&turn, &record).await.expect("open");
            let mut h = Histogram::<u64>::new(3).expect("histogram");
            for seq in 1..=DELTAS_PER_STREAM {
                let frame = Bytes::from(format!(
                    "id: {turn}:{seq}\r\nevent: content_delta\r\ndata: {{\"text\": \"a few words of the reply \"}}\r\n\r\n"
                ));
                let event = LoggedEvent { seq, name: "content_delta".to_string(), frame };
                let started = Instant::now();
                log.append(&turn, &event).await.expect("append");
                h.record(started.elapsed().as_micros().max(1) as u64).expect("record");
                // Claude's pace: a delta every few milliseconds.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            h
        })
    });
    let mut all = Histogram::<u64>::new(3).expect("histogram");
    for task in futures::future::join_all(tasks).await {
        all.add(task.expect("task")).expect("add");
    }
    all
}

struct Pair {
    a: TestServer,
    b: TestServer,
}

async fn pair(anthropic_url: &str, test: &str) -> Pair {
    let db = TestDatabase::new(Backend::Postgres).await.expect("database");
    let options = db.options();
    let prefix = unique_prefix(test);
    let vars = [
        ("ANTHROPIC_BASE_URL", anthropic_url),
        ("ANTHROPIC_API_KEY", "sk-ant-bench"),
        ("REDIS_URL", SHARED_REDIS_URL),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("CONCURRENT_TURNS_PER_USER", "1000"),
        ("RATE_LIMIT_FREE", "1000000"),
    ];
    let a = TestServer::start(&vars, db).await.expect("instance a");
    let store = Store::connect(&options).await.expect("pool");
    let b = TestServer::start_with_store(&vars, store, None).await.expect("instance b");
    Pair { a, b }
}

fn turn_of(t: &end_to_end::sse_client::SseTranscript) -> String {
    t.first("message_start").expect("message_start").data["turn_id"].as_str().expect("turn_id").to_string()
}

async fn stop_latency() -> Histogram<u64> {
    let claude = HangingServer::claude_mid_reply().await;
    let cluster = pair(&claude.url(), "bench_stop").await;
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for i in 0..STOPS {
        let user = "user_bench_stop";
        let request = as_test_user(cluster.a.client().post(cluster.a.url("/chat/stream")), user)
            .json(&serde_json::json!({"message": "Think"}));
        let mut stream = LiveStream::open(request, PATIENCE);
        let seen = stream.wait_until("text", |t| t.first("content_delta").is_some()).await;
        let turn = turn_of(&seen);
        let started = Instant::now();
        let stop = as_test_user(cluster.b.client().post(cluster.b.url(&format!("/chat/turns/{turn}/stop"))), user);
        let (answer, ()) = tokio::join!(stop.send(), claude.abandoned(i + 1));
        h.record(started.elapsed().as_micros().max(1) as u64).expect("record");
        assert_eq!(answer.expect("stop").status(), 200);
        stream.finish().await.expect("the stream ends");
    }
    h
}

async fn resume_latency() -> Histogram<u64> {
    let reply =
        Reply::text("A reply long enough to resume from its middle, in many small deltas.").text_split(Split::Every(4));
    let anthropic = StandIn::builder().repeat(reply).start().await;
    let cluster = pair(&anthropic.url(), "bench_resume").await;
    let user = "user_bench_resume";
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for _ in 0..RESUMES {
        let request = as_test_user(cluster.a.client().post(cluster.a.url("/chat/stream")), user)
            .json(&serde_json::json!({"message": "Tell me"}));
        let whole = read_stream(request, PATIENCE).await.expect("the turn");
        let turn = turn_of(&whole);
        let middle = whole.events[whole.events.len() / 2].id.clone().expect("an id");
        let resume = as_test_user(cluster.b.client().get(cluster.b.url(&format!("/chat/turns/{turn}/events"))), user)
            .header("Last-Event-ID", middle);
        let started = Instant::now();
        let response = resume.send().await.expect("resume");
        let mut body = response.bytes_stream();
        let first = body.next().await.expect("a first event").expect("bytes");
        h.record(started.elapsed().as_micros().max(1) as u64).expect("record");
        assert!(first.starts_with(b"id: "), "an event first");
    }
    h
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        println!(
            "turns that survive: {STREAMS} streams x {DELTAS_PER_STREAM} deltas appended at Claude's pace (one per 5 ms each)"
        );
        report("event-log lag per delta, Redis", &append_latency(Some(SHARED_REDIS_URL)).await);
        report("event-log lag per delta, in memory", &append_latency(None).await);
        report("stop: request -> Claude connection closed", &stop_latency().await);
        report("resume: request -> first replayed event", &resume_latency().await);
    });
}
