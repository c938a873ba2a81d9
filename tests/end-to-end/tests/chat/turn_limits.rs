//! What no client can do to a turn: a client that stops reading (without closing) neither freezes
//! its turn's tool calls nor loses its reply, and one user cannot run more than
//! `CONCURRENT_TURNS_PER_USER` turns at once (the next is one `error` event that spends nothing).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use end_to_end::on_both_backends;
use end_to_end::plugins::PluginsDir;
use end_to_end::poll::poll_until;
use end_to_end::server::TEST_AUTH_SECRET;
use serde_json::{Value, json};
use stand_ins::anthropic::{Reply, Split};
use stand_ins::gate::Gate;
use store::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use uuid::Uuid;

use super::{Harness, roles};

on_both_backends!(
    a_client_that_stops_reading_frees_its_tool_slots_and_its_reply_is_still_persisted,
    a_fourth_concurrent_turn_of_one_user_is_refused_and_spends_nothing,
);

/// `spin` runs until its 3-second deadline; `flood` returns as many MiB of text as asked (allowed
/// up to 2 MiB here).
fn slow_and_large_tools() -> PluginsDir {
    let plugins = PluginsDir::new();
    plugins.add("spin-loop");
    plugins.write_manifest(
        "spin-loop",
        "name = \"spin-loop\"\nversion = \"0.1.0\"\n\n[limits]\ntimeout_seconds = 3\nfuel = 1_000_000_000_000_000\n",
    );
    plugins.add("oversized-result");
    plugins.write_manifest(
        "oversized-result",
        "name = \"oversized-result\"\nversion = \"0.1.0\"\n\n[limits]\nmemory_bytes = 67_108_864\nmax_result_bytes = 2_097_152\n",
    );
    plugins
}

/// A client that reads its stream up to a point and then stops reading, without closing. Its
/// receive buffer is small, so what the service sends after that backs up into the service.
struct StalledClient {
    stream: TcpStream,
    received: Vec<u8>,
}

impl StalledClient {
    /// Sends `POST /chat/stream` as `user` and reads until `until` has arrived.
    async fn start(addr: SocketAddr, user: &str, body: &Value, until: &str) -> StalledClient {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("a small receive buffer");
        let mut stream = socket.connect(addr).await.expect("connect");
        let body = body.to_string();
        let head = format!(
            "POST /chat/stream HTTP/1.1\r\nHost: chat-api\r\nContent-Type: application/json\r\n\
             X-Test-Auth: {TEST_AUTH_SECRET}\r\nX-Test-User-Id: {user}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(format!("{head}{body}").as_bytes()).await.expect("request sent");
        let mut client = StalledClient { stream, received: Vec::new() };
        let mut buf = [0u8; 1024];
        let reading = async {
            while !client.text().contains(until) {
                let n = client.stream.read(&mut buf).await.expect("the stream is open");
                assert!(n > 0, "the stream ended before {until:?}: {}", client.text());
                client.received.extend_from_slice(&buf[..n]);
            }
        };
        tokio::time::timeout(Duration::from_secs(30), reading).await.expect("the stream began");
        client
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.received).into_owned()
    }

    /// The session of the stream (from `message_start`).
    fn session(&self) -> Uuid {
        let text = self.text();
        let start = text.find("event: message_start").expect("message_start");
        let id = text[start..].split("\"session_id\": \"").nth(1).expect("session_id");
        Uuid::parse_str(&id[..36]).expect("a UUID")
    }

    /// Reads everything that was left unread until the server closes the connection; `None` if it
    /// is still open after `limit`.
    async fn rest(mut self, limit: Duration) -> Option<String> {
        let mut buf = vec![0u8; 64 * 1024];
        let reading = async {
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => self.received.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(limit, reading).await.ok()?;
        Some(self.text())
    }
}

async fn a_client_that_stops_reading_frees_its_tool_slots_and_its_reply_is_still_persisted(backend: Backend) {
    let plugins = slow_and_large_tools();
    let dir = plugins.path().to_string_lossy().into_owned();
    // Longer than the spin's budget by far: without tasks of their own the calls would wait for it.
    let h = Harness::start(backend, &[("PLUGINS_DIR", &dir), ("SLOW_CLIENT_TIMEOUT_SECONDS", "20")]).await;
    // Ten results of 1 MiB each: far more than the socket buffers and the stream's own buffer hold.
    let mut first = Reply::tool_use("toolu_spin", "spin", "").json_split(Split::Whole);
    for i in 0..10 {
        first = first.and_tool_use(format!("toolu_flood_{i}"), "flood", r#"{"megabytes": 1}"#);
    }
    h.anthropic.push(first);
    h.anthropic.push(Reply::text("Done, all eleven are back."));
    let user = "user_stops_reading";
    let started = Instant::now();
    let client =
        StalledClient::start(h.server.addr, user, &json!({"message": "run them all"}), "event: function_call").await;
    let session = client.session();

    // The spin call ends at its 3-second deadline and gives its slot back, although the turn is
    // stuck sending results to a client that reads nothing.
    let registry = h.server.state.tools.clone();
    poll_until(Duration::from_secs(12), "the spin call's end, 12 s after the request", async || {
        let listing = registry.list().await;
        let spin = listing.iter().find(|p| p.name == "spin-loop").ok_or("no spin-loop plugin")?;
        if spin.stats.calls == 1 { Ok(()) } else { Err(format!("{} calls finished", spin.stats.calls)) }
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(15));

    // The client is dropped after SLOW_CLIENT_TIMEOUT_SECONDS; the turn goes on and is persisted:
    // the user's message, the eleven results and the reply.
    h.server.turns_finished(Duration::from_secs(90)).await;
    let rows = h.rows(session).await;
    let mut expected = vec!["user"];
    expected.extend(["tool_result"; 11]);
    expected.push("assistant");
    assert_eq!(roles(&rows), expected);
    let reply = &rows[12];
    assert_eq!(reply.content.as_deref(), Some("Done, all eleven are back."));
    assert!(!reply.incomplete);
    assert_eq!(h.anthropic.request_count(), 2, "Claude got every result");

    // The server closed the connection: what was left unread drains, then it ends, without the
    // events sent after the client was dropped.
    let rest = client.rest(Duration::from_secs(30)).await.expect("the server closed the connection");
    assert!(!rest.contains("event: message_end"), "the stalled client was dropped before the end");
}

async fn a_fourth_concurrent_turn_of_one_user_is_refused_and_spends_nothing(backend: Backend) {
    let h = Harness::start(backend, &[]).await;
    let gate = Gate::new();
    h.anthropic.push_all((0..3).map(|i| Reply::text(format!("held reply {i}")).hold_headers_until(gate.clone())));
    let user = "user_many_turns";
    let held: Vec<_> = (0..3)
        .map(|i| {
            tokio::spawn(end_to_end::sse_client::read_stream(
                h.request(user, json!({"message": format!("turn {i}")})),
                Duration::from_secs(60),
            ))
        })
        .collect();
    h.anthropic.wait_for_requests(3, Duration::from_secs(20)).await;
    assert_eq!(h.usage(user).await, 3);

    // A fourth turn of the same user: one error event, in the shape clients already handle.
    let t = h.chat(user, json!({"message": "a fourth"})).await;
    assert_eq!(t.names(), ["error"]);
    assert_eq!(
        t.first("error").unwrap().data,
        json!({"type": "rate_limit", "message": "You already have 3 replies in progress. Please wait for one to finish and try again."})
    );
    assert_eq!(h.usage(user).await, 3, "no quota unit was spent");
    assert_eq!(h.store().list_sessions(user, 50, 0).await.unwrap().len(), 3, "no session or message row");
    assert_eq!(h.anthropic.request_count(), 3, "Claude was not called");

    // Another user is served meanwhile.
    h.anthropic.push(Reply::text("hello other"));
    let other = h.chat("user_other_turns", json!({"message": "hi"})).await;
    assert_eq!(other.names().last(), Some(&"message_end"), "{:?}", other.names());

    // When the held turns end, their slots come back.
    gate.open();
    for turn in held {
        let t = turn.await.unwrap().expect("stream");
        assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.names());
    }
    h.anthropic.push(Reply::text("again"));
    let again = h.chat(user, json!({"message": "now?"})).await;
    assert_eq!(again.names().last(), Some(&"message_end"), "{:?}", again.names());
    assert_eq!(h.usage(user).await, 4);
}
