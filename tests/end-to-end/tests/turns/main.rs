//! Turns that survive (#12): two instances of the service over one Postgres database and one
//! Redis (a key prefix of each test's own), the stand-in Anthropic, real plugins where a tool runs.
//! A client cut off mid-turn resumes on the other instance and gets exactly the events it missed;
//! a stop from the other instance ends a turn mid-text or mid-tool; the per-user cap holds across
//! instances; Redis going away degrades the service without losing anything; and the same
//! scenarios hold on one instance without Redis.

use std::time::Duration;

use end_to_end::plugins::PluginsDir;
use end_to_end::redis_server::{SHARED_REDIS_URL, unique_prefix};
use end_to_end::server::{TestServer, as_test_user, read_json};
use end_to_end::sse_client::{LiveStream, SseTranscript, read_stream};
use end_to_end::tcp_proxy::{TcpProxy, postgres_address, through};
use serde_json::{Value, json};
use stand_ins::anthropic::StandIn;
use store::testing::TestDatabase;
use store::{Backend, Message, Store, StoreOptions};
use uuid::Uuid;

mod limits;
mod postgres_down;
mod redis_down;
mod resume;
mod single_instance;
mod stop;

/// Long enough for anything a loaded machine does; only a failing test waits this long.
const PATIENCE: Duration = Duration::from_secs(60);

/// Where the instances keep their shared state.
#[derive(Clone, Debug)]
enum Shared {
    /// Redis at this URL, under a prefix of the test's own.
    Redis(String),
    /// No Redis: in process (one instance).
    InProcess,
}

/// The instances of one test, the stand-in Anthropic they share and a handle on their database.
struct Cluster {
    anthropic: StandIn,
    instances: Vec<TestServer>,
    db: Store,
    /// Between the instances and Postgres, when the test takes the database away.
    postgres: Option<TcpProxy>,
    _plugins: PluginsDir,
}

/// How a test's instances are set up.
#[derive(Clone, Copy, Default)]
struct Options<'a> {
    plugins: &'a [&'a str],
    /// The instances reach Postgres through a [`TcpProxy`] the test can cut.
    postgres_proxy: bool,
}

impl Cluster {
    /// Two instances on Postgres sharing the shared Redis.
    async fn two(test: &str, extra: &[(&str, &str)]) -> Cluster {
        let shared = Shared::Redis(SHARED_REDIS_URL.to_string());
        Cluster::start(test, shared, 2, Backend::Postgres, extra, Options::default()).await
    }

    /// `count` instances over one database.
    async fn start(
        test: &str,
        shared: Shared,
        count: usize,
        backend: Backend,
        extra: &[(&str, &str)],
        options: Options<'_>,
    ) -> Cluster {
        let anthropic = StandIn::start().await;
        let plugins_dir = PluginsDir::new();
        for plugin in options.plugins {
            plugins_dir.add(plugin);
        }
        let db = TestDatabase::new(backend).await.expect("test database");
        let reader = Store::connect(&db.options()).await.expect("a handle on the database");
        let postgres = match options.postgres_proxy {
            true => Some(TcpProxy::start(postgres_address(&db.url).await).await),
            false => None,
        };
        let store_options = StoreOptions {
            url: postgres.as_ref().map_or_else(|| db.url.clone(), |proxy| through(&db.url, proxy.addr())),
            run_migrations: false,
            ..db.options()
        };
        let (url, prefix) = (anthropic.url(), unique_prefix(test));
        let plugins_path = plugins_dir.path().to_string_lossy().into_owned();
        let cache = std::env::temp_dir().join("amakaflow-tools-suite-cache").to_string_lossy().into_owned();
        let mut vars = vec![
            ("ANTHROPIC_BASE_URL", url.as_str()),
            ("ANTHROPIC_API_KEY", "sk-ant-turns-suite"),
            ("ANTHROPIC_RETRY_BASE_SECONDS", "0.01"),
            ("REDIS_KEY_PREFIX", prefix.as_str()),
            ("PLUGINS_DIR", plugins_path.as_str()),
            ("PLUGIN_CACHE_DIR", cache.as_str()),
        ];
        if let Shared::Redis(redis) = &shared {
            vars.push(("REDIS_URL", redis.as_str()));
        }
        vars.extend_from_slice(extra);
        let mut keep = Some(db);
        let mut instances = Vec::new();
        for _ in 0..count {
            let store = Store::connect(&store_options).await.expect("a pool of its own");
            instances.push(TestServer::start_with_store(&vars, store, keep.take()).await.expect("an instance starts"));
        }
        Cluster { anthropic, instances, db: reader, postgres, _plugins: plugins_dir }
    }

    fn a(&self) -> &TestServer {
        &self.instances[0]
    }

    /// The other instance (the same one when there is only one).
    fn b(&self) -> &TestServer {
        self.instances.last().expect("an instance")
    }

    fn chat_request(&self, on: &TestServer, user: &str, body: Value) -> reqwest::RequestBuilder {
        as_test_user(on.client().post(on.url("/chat/stream")), user).json(&body)
    }

    async fn chat(&self, on: &TestServer, user: &str, body: Value) -> SseTranscript {
        read_stream(self.chat_request(on, user, body), PATIENCE).await.expect("the stream reads")
    }

    /// A stream read in the background, to act while the turn runs.
    fn open(&self, on: &TestServer, user: &str, body: Value) -> LiveStream {
        LiveStream::open(self.chat_request(on, user, body), PATIENCE)
    }

    fn resume_request(&self, on: &TestServer, user: &str, turn: &str) -> reqwest::RequestBuilder {
        on.get_as(user, &format!("/chat/turns/{turn}/events"))
    }

    async fn resume(&self, on: &TestServer, user: &str, turn: &str, last_event_id: &str) -> SseTranscript {
        let request = self.resume_request(on, user, turn).header("Last-Event-ID", last_event_id);
        read_stream(request, PATIENCE).await.expect("the resumed stream reads")
    }

    async fn stop(&self, on: &TestServer, user: &str, turn: &str) -> (reqwest::StatusCode, Value) {
        let request = as_test_user(on.client().post(on.url(&format!("/chat/turns/{turn}/stop"))), user);
        read_json(request.send().await.expect("stop answers")).await
    }

    async fn rows(&self, session: Uuid) -> Vec<Message> {
        self.db.message_page(session, 200, None).await.expect("messages").messages
    }

    async fn usage(&self, user: &str) -> i64 {
        self.db.message_usage(user, store::Period::of(chrono::Utc::now())).await.expect("usage")
    }
}

/// The turn id of a stream (from `message_start`).
fn turn_of(t: &SseTranscript) -> String {
    t.first("message_start").expect("message_start").data["turn_id"].as_str().expect("turn_id").to_string()
}

fn session_of(t: &SseTranscript) -> Uuid {
    let start = t.first("message_start").expect("message_start");
    Uuid::parse_str(start.data["session_id"].as_str().expect("session_id")).expect("a UUID")
}

/// The id of the last event the client received.
fn last_id(t: &SseTranscript) -> String {
    t.events.last().and_then(|e| e.id.clone()).expect("an event with an id")
}

/// The raw bytes of the first `events` events of a stream (pings left out): what a client that
/// was cut off after them had fully received.
fn raw_events(t: &SseTranscript, events: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(&t.raw);
    let mut out = Vec::new();
    for block in text.split_inclusive("\r\n\r\n").filter(|b| !b.starts_with(':')).take(events) {
        out.extend_from_slice(block.as_bytes());
    }
    out
}

/// The events of a stream, without its pings, as bytes.
fn raw_without_pings(t: &SseTranscript) -> Vec<u8> {
    raw_events(t, usize::MAX)
}

/// Every id of a stream, in order.
fn ids(t: &SseTranscript) -> Vec<String> {
    t.events.iter().map(|e| e.id.clone().unwrap_or_default()).collect()
}

/// A user id of its own for every test (and every turn of the many-turn test).
fn user(test: &str) -> String {
    format!("user_{test}_{}", &Uuid::new_v4().simple().to_string()[..8])
}

/// What the client sees of a message it sent: `{"message": …}` plus the rest.
fn message(text: &str) -> Value {
    json!({"message": text})
}
