//! The stand-in Anthropic as a process of its own, for benchmarks that must not share a process
//! (and its open-file limit) with the client or the service: it answers every request with the
//! same stamped text reply (each delta carries the time it was written, see
//! [`stand_ins::anthropic::NOW_MARKER`]), prints one JSON line with its URL and, over TLS, the file
//! of the test CA a client must trust, and exits when its standard input closes.
//!
//! `anthropic-stand-in [--tls] [--deltas N] [--every-ms MS]`: `--tls` serves HTTPS with ALPN
//! offering h2 and http/1.1 like the real API (plain HTTP/1.1 otherwise); the reply has `N` deltas
//! (default 50), `MS` milliseconds apart (default 20).

use std::time::Duration;

use stand_ins::anthropic::{NOW_MARKER, Reply, Split, StandIn};
use stand_ins::recording_server::Alpn;
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    host::server::raise_open_file_limit();
    let mut tls = false;
    let (mut deltas, mut every_ms) = (50usize, 20u64);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tls" => tls = true,
            "--deltas" => deltas = args.next().and_then(|v| v.parse().ok()).ok_or_else(usage)?,
            "--every-ms" => every_ms = args.next().and_then(|v| v.parse().ok()).ok_or_else(usage)?,
            _ => return Err(usage()),
        }
    }
    let reply = Reply::text(format!("{NOW_MARKER};").repeat(deltas))
        .text_split(Split::Every(NOW_MARKER.len() + 1))
        .event_delay(Duration::from_millis(every_ms));
    let mut builder = StandIn::builder().repeat(reply);
    if tls {
        builder = builder.tls(Alpn::H2AndHttp1);
    }
    let stand_in = builder.start().await;
    let ca_file = stand_in.ca().map(|ca| ca.file().to_string_lossy().into_owned());
    println!("{}", serde_json::json!({"url": stand_in.url(), "ca_file": ca_file}));
    // Serves until the parent closes our standard input (or dies).
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    drop(stand_in);
    Ok(())
}

fn usage() -> anyhow::Error {
    anyhow::anyhow!("usage: anthropic-stand-in [--tls] [--deltas N] [--every-ms MS]")
}
