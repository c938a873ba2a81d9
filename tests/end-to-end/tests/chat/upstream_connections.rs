//! How turns reach Anthropic: over TLS with HTTP/2 negotiated by ALPN, as the real API serves it,
//! many turns share one connection (up to `ANTHROPIC_STREAMS_PER_CONNECTION`, then another opens),
//! and a server that offers only HTTP/1.1 still gets every turn, one connection each. The stand-in
//! serves a certificate of a test CA made at run time, trusted through `EXTRA_CA_CERTS_FILE`; it
//! counts the connections it accepted and records which one carried each request.

use std::collections::BTreeSet;
use std::time::Duration;

use end_to_end::on_both_backends;
use end_to_end::sse_client::LiveStream;
use serde_json::json;
use stand_ins::anthropic::{Reply, StandIn};
use stand_ins::gate::Gate;
use stand_ins::recording_server::{Alpn, RecordedRequest};
use store::Backend;

use super::Harness;

on_both_backends!(
    concurrent_turns_share_one_http2_connection_to_anthropic,
    turns_beyond_the_streams_per_connection_open_another_connection,
    an_anthropic_that_offers_only_http1_still_gets_every_turn,
);

/// The service wired to a TLS stand-in offering `alpn`, trusting its CA.
async fn over_tls(backend: Backend, alpn: Alpn, extra: &[(&str, &str)]) -> Harness {
    let anthropic = StandIn::builder().tls(alpn).start().await;
    let ca = anthropic.ca().expect("a TLS stand-in has a CA").file().to_string_lossy().into_owned();
    let mut vars = vec![("EXTRA_CA_CERTS_FILE", ca.as_str())];
    vars.extend_from_slice(extra);
    Harness::with_anthropic(backend, anthropic, &vars).await
}

/// `turns` turns of different users at once, each reply held after its first text until `gate`
/// opens, so that all of them are streaming together when the test looks.
async fn hold_turns_open(h: &Harness, turns: usize, gate: &Gate) -> Vec<LiveStream> {
    for i in 0..turns {
        h.anthropic.push(Reply::text(format!("Reply {i} is here.")).hold_after(3, gate.clone()));
    }
    let streams: Vec<LiveStream> = (0..turns)
        .map(|i| {
            let request = h.request(&format!("user_conn_{i:03}"), json!({"message": format!("Turn {i}")}));
            LiveStream::open(request, Duration::from_secs(60))
        })
        .collect();
    h.anthropic.wait_for_requests(turns, Duration::from_secs(30)).await;
    streams
}

/// Every turn ends with its whole reply.
async fn finish_all(streams: Vec<LiveStream>) {
    let turns = streams.len();
    let mut texts = BTreeSet::new();
    for stream in streams {
        let t = stream.finish().await.expect("stream reads");
        assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.names());
        texts.insert(t.text());
    }
    assert!(texts.iter().all(|t| t.starts_with("Reply ") && t.ends_with(" is here.")), "{texts:?}");
    assert_eq!(turns, texts.len(), "each turn got its own reply");
}

fn connections_used(requests: &[RecordedRequest]) -> BTreeSet<usize> {
    requests.iter().map(|r| r.connection).collect()
}

async fn concurrent_turns_share_one_http2_connection_to_anthropic(backend: Backend) {
    let h = over_tls(backend, Alpn::H2AndHttp1, &[]).await;
    let gate = Gate::new();
    let streams = hold_turns_open(&h, 40, &gate).await;

    let requests = h.anthropic.requests();
    assert!(requests.iter().all(|r| r.version == http::Version::HTTP_2), "every request over HTTP/2");
    assert_eq!(connections_used(&requests).len(), 1, "40 streaming turns on one connection");
    // Requests started together before the first handshake finished could each have opened one.
    assert!(h.anthropic.connections_accepted() <= 2, "{} connections opened", h.anthropic.connections_accepted());

    gate.open();
    finish_all(streams).await;
    assert_eq!(connections_used(&h.anthropic.requests()).len(), 1);
}

async fn turns_beyond_the_streams_per_connection_open_another_connection(backend: Backend) {
    let h = over_tls(backend, Alpn::H2AndHttp1, &[("ANTHROPIC_STREAMS_PER_CONNECTION", "10")]).await;
    let gate = Gate::new();
    let streams = hold_turns_open(&h, 30, &gate).await;

    let requests = h.anthropic.requests();
    assert!(requests.iter().all(|r| r.version == http::Version::HTTP_2));
    let used = connections_used(&requests);
    assert_eq!(used.len(), 3, "30 turns at 10 streams a connection");
    for connection in &used {
        let on_it = requests.iter().filter(|r| r.connection == *connection).count();
        assert_eq!(on_it, 10, "connection {connection} carries {on_it} streams");
    }

    gate.open();
    finish_all(streams).await;
    // Once those streams ended, their places are free again: the next turns need no new connection.
    let gate = Gate::new();
    gate.open();
    let more = hold_turns_open(&h, 10, &gate).await;
    finish_all(more).await;
    assert_eq!(connections_used(&h.anthropic.requests()).len(), 3);
}

async fn an_anthropic_that_offers_only_http1_still_gets_every_turn(backend: Backend) {
    let h = over_tls(backend, Alpn::Http1Only, &[]).await;
    let gate = Gate::new();
    let streams = hold_turns_open(&h, 5, &gate).await;

    let requests = h.anthropic.requests();
    assert!(requests.iter().all(|r| r.version == http::Version::HTTP_11), "every request over HTTP/1.1");
    assert_eq!(connections_used(&requests).len(), 5, "HTTP/1.1: one connection per streaming turn");

    gate.open();
    finish_all(streams).await;
}
