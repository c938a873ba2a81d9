//! The HTTP server's ceilings, against the real service over loopback: a slow-loris client is cut
//! within the header timeout; an idle keep-alive connection is closed after the idle timeout, not
//! after the header timeout; a request in flight (a quiet SSE stream) is never cut by either;
//! connections over the cap are closed at once while normal requests are still served; h2c is
//! served; a client's `X-Request-Id` is adopted only when it is a short token.
//!
//! Timeouts are short and the margins wide (a 1 s timeout must act within 10 s); a connection's end
//! is observed by reading it, never inferred from a sleep.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use end_to_end::server::{TestServer, as_test_user};
use end_to_end::slow_loris::SlowLoris;
use end_to_end::sse_client::read_stream;
use futures::StreamExt;
use serde_json::json;
use stand_ins::anthropic::{Reply, StandIn};
use stand_ins::gate::Gate;
use store::testing::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The service over SQLite, with the stand-in Anthropic (scripted: tests queue what they need).
struct Service {
    server: TestServer,
    anthropic: StandIn,
}

impl Service {
    async fn start(extra: &[(&str, &str)]) -> Service {
        let anthropic = StandIn::start().await;
        let url = anthropic.url();
        let mut vars = vec![("ANTHROPIC_BASE_URL", url.as_str()), ("ANTHROPIC_API_KEY", "sk-ant-http-server-suite")];
        vars.extend_from_slice(extra);
        let db = TestDatabase::sqlite().await.expect("test database");
        let server = TestServer::start(&vars, db).await.expect("server starts");
        Service { server, anthropic }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    fn chat(&self, client: &reqwest::Client, user: &str, message: &str) -> reqwest::RequestBuilder {
        as_test_user(client.post(self.server.url("/chat/stream")), user).json(&json!({"message": message}))
    }
}

/// How a connection ended, seen from the client: what the server had sent before closing it.
#[derive(Debug)]
struct Ended {
    received: Vec<u8>,
}

/// Reads `stream` until the server closes it (a clean close or a reset), or `None` after `limit`.
async fn until_closed(stream: &mut (impl AsyncReadExt + Unpin), limit: Duration) -> Option<Ended> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let reading = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, reading).await.ok()?;
    Some(Ended { received })
}

/// An HTTP/1.1 keep-alive connection spoken by hand, so a test controls every byte and sees
/// exactly when the server closes it.
struct Http1Connection {
    stream: TcpStream,
}

impl Http1Connection {
    async fn open(addr: SocketAddr) -> Http1Connection {
        Http1Connection { stream: TcpStream::connect(addr).await.expect("connect") }
    }

    /// `GET path` on this connection; the status and body of the answer.
    async fn get(&mut self, path: &str) -> (u16, String) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: chat-api\r\n\r\n");
        self.stream.write_all(request.as_bytes()).await.expect("request written");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let byte = self.stream.read_u8().await.expect("response head");
            head.push(byte);
        }
        let head = String::from_utf8(head).expect("ASCII head");
        let status = head[9..12].parse().expect("status code");
        let length: usize = head
            .lines()
            .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
            .expect("content-length")
            .parse()
            .expect("a length");
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).await.expect("response body");
        (status, String::from_utf8(body).expect("UTF-8 body"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_client_is_cut_within_the_header_timeout() {
    let s = Service::start(&[("HTTP_HEADER_TIMEOUT_SECONDS", "1")]).await;
    let started = Instant::now();
    // A request head trickled a line every 300 ms: no single wait is long, the head as a whole is.
    let loris = SlowLoris::start(s.addr(), Duration::from_millis(300)).await.expect("connect");
    let received = loris.closed_within(Duration::from_secs(10)).await.expect("cut within 10 s");
    assert!(received.is_empty(), "an incomplete head gets no answer: {:?}", String::from_utf8_lossy(&received));
    assert!(started.elapsed() >= Duration::from_secs(1), "not before the header timeout: {:?}", started.elapsed());
    assert!(s.anthropic.requests().is_empty());

    // A connection that never sends a byte is cut the same way.
    let mut silent = TcpStream::connect(s.addr()).await.expect("connect");
    until_closed(&mut silent, Duration::from_secs(10)).await.expect("a silent connection is cut within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_waits_for_the_idle_timeout_not_the_header_timeout() {
    // hyper's own header timeout would close a waiting keep-alive connection after 1 s.
    let s = Service::start(&[("HTTP_HEADER_TIMEOUT_SECONDS", "1"), ("HTTP_IDLE_TIMEOUT_SECONDS", "60")]).await;
    let mut connection = Http1Connection::open(s.addr()).await;
    assert_eq!(connection.get("/health").await.0, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(connection.get("/health").await.0, 200, "the same connection serves a second request");

    let s = Service::start(&[("HTTP_HEADER_TIMEOUT_SECONDS", "60"), ("HTTP_IDLE_TIMEOUT_SECONDS", "1")]).await;
    let mut connection = Http1Connection::open(s.addr()).await;
    assert_eq!(connection.get("/health").await.0, 200);
    let ended = until_closed(&mut connection.stream, Duration::from_secs(10)).await.expect("closed within 10 s");
    assert!(ended.received.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_in_flight_are_never_cut_by_the_timeouts() {
    let s = Service::start(&[("HTTP_HEADER_TIMEOUT_SECONDS", "1"), ("HTTP_IDLE_TIMEOUT_SECONDS", "1")]).await;
    // Claude says nothing for 3 s, three times both timeouts (no byte flows either way), then
    // finishes: over HTTP/1.1 and h2c.
    let http1 = reqwest::Client::new();
    let h2c = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    for (round, (protocol, client)) in [("HTTP/1.1", &http1), ("h2c", &h2c)].into_iter().enumerate() {
        let pause = Gate::new();
        s.anthropic.push(Reply::text("after a long pause").hold_after(1, pause.clone()));
        let stream = read_stream(s.chat(client, "user_quiet_stream", "think first"), Duration::from_secs(30));
        let stream = tokio::spawn(stream);
        s.anthropic.wait_for_requests(round + 1, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        pause.open();
        let t = stream.await.unwrap().unwrap_or_else(|err| panic!("{protocol}: {err}"));
        assert_eq!(t.names().last(), Some(&"message_end"), "{protocol}: {:?}", t.names());
        assert_eq!(t.text(), "after a long pause", "{protocol}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_requests_are_served() {
    let s = Service::start(&[]).await;
    let client = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let response = client.get(s.server.url("/health")).send().await.expect("an h2c answer");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);

    // Streams of one connection are multiplexed: three chats at once over it.
    s.anthropic.push_all((0..3).map(|i| Reply::text(format!("reply {i}"))));
    let chats = (0..3).map(|i| read_stream(s.chat(&client, &format!("user_h2c_{i}"), "hi"), Duration::from_secs(30)));
    for t in futures::future::join_all(chats).await {
        let t = t.expect("stream");
        assert_eq!(t.names().first(), Some(&"message_start"));
        assert_eq!(t.names().last(), Some(&"message_end"));
        assert!(t.text().starts_with("reply "), "{}", t.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_refused_while_normal_requests_are_still_served() {
    // 2,000 client sockets here, and the server's own.
    host::server::raise_open_file_limit();
    let s = Service::start(&[
        ("HTTP_MAX_CONNECTIONS", "50"),
        ("HTTP_HEADER_TIMEOUT_SECONDS", "300"),
        ("HTTP_IDLE_TIMEOUT_SECONDS", "300"),
    ])
    .await;
    // Every slot taken by a keep-alive connection that was served once and is now idle.
    let mut held = Vec::new();
    for _ in 0..50 {
        let mut connection = Http1Connection::open(s.addr()).await;
        assert_eq!(connection.get("/health").await.0, 200);
        held.push(connection);
    }
    // 2,000 more idle connections: each is closed as soon as it is accepted, before any answer.
    let addr = s.addr();
    let refused: Vec<Option<Ended>> = futures::stream::iter(0..2_000)
        .map(|_| async move {
            let mut stream = TcpStream::connect(addr).await.expect("the kernel completes the handshake");
            until_closed(&mut stream, Duration::from_secs(10)).await
        })
        .buffer_unordered(200)
        .collect()
        .await;
    let closed = refused.iter().flatten().filter(|ended| ended.received.is_empty()).count();
    assert_eq!(closed, 2_000, "every connection over the cap was closed unanswered");
    for connection in &mut held[..3] {
        assert_eq!(connection.get("/health").await.0, 200, "connections within the cap are still served");
    }

    // A normal request succeeds as soon as a slot frees.
    drop(held.pop());
    // Keep-alive: the scrape below reuses the slot this request finds.
    let fresh = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let health = loop {
        match fresh.get(s.server.url("/health")).send().await {
            Ok(response) => break response,
            // Refused until the server has noticed the close and freed the slot.
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(err) => panic!("no slot freed within 10 s: {err}"),
        }
    };
    assert_eq!(health.status(), 200);
    let metrics = fresh
        .get(s.server.url("/metrics"))
        .header("X-Internal-Key", host::config::DEFAULT_INTERNAL_API_KEY)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    let refused_total: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("http_connections_refused_total "))
        .expect("the refusal counter")
        .parse()
        .expect("a number");
    assert!(refused_total >= 2_000.0, "{refused_total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_request_id_is_adopted_only_when_it_is_a_short_token() {
    // With Helicone on (the stand-in playing Helicone), the request id reaches an upstream header.
    let anthropic = StandIn::start().await;
    let url = anthropic.url();
    let db = TestDatabase::sqlite().await.expect("test database");
    let vars = [
        ("ANTHROPIC_BASE_URL", url.as_str()),
        ("ANTHROPIC_API_KEY", "sk-ant-http-server-suite"),
        ("HELICONE_ENABLED", "true"),
        ("HELICONE_API_KEY", "sk-helicone-http-server-suite"),
        ("HELICONE_BASE_URL", url.as_str()),
    ];
    let server = TestServer::start(&vars, db).await.expect("server starts");
    let s = Service { server, anthropic };
    let client = reqwest::Client::new();
    let echoed = |response: &reqwest::Response| {
        response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    };

    let good = "web-7f3a.retry_2";
    let response = client.get(s.server.url("/health")).header("X-Request-Id", good).send().await.unwrap();
    assert_eq!(echoed(&response), good, "a short token is adopted and echoed");

    let long = "a".repeat(4096);
    let just_too_long = "b".repeat(65);
    for bad in [long.as_str(), just_too_long.as_str(), "has spaces in it", "semi;colon", "{\"json\":1}"] {
        let response = client.get(s.server.url("/health")).header("X-Request-Id", bad).send().await.unwrap();
        let id = echoed(&response);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} was replaced with a fresh id, got {id:?}");
    }

    // Through a chat turn: what reaches the upstream (Helicone's request property) is the fresh id.
    s.anthropic.push(Reply::text("hi"));
    let request = s.chat(&client, "user_request_id", "hello").header("X-Request-Id", long.as_str());
    let response = request.send().await.unwrap();
    let id = echoed(&response);
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id:?}");
    let _ = response.text().await;
    let sent = s.anthropic.last_request();
    assert_eq!(sent.header("helicone-property-request-id"), Some(id.as_str()));
    assert!(sent.headers.iter().all(|(_, value)| *value != long), "the long id went nowhere");
}
