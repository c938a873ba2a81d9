//! The fallback figure of #15: time from an Anthropic failure to the first delta of the OpenAI
//! fallback reaching the client. The service (in this process, SQLite) talks to the stand-in
//! Anthropic and the stand-in OpenAI over loopback; each turn is timed from the client's request
//! to its first `content_delta`, sequentially:
//!
//! - `anthropic`: Anthropic answers (the baseline);
//! - `fallback`: Anthropic answers 529 (retries off, as after the last retry) and the turn runs on
//!   OpenAI; the difference of the two is what the failure and the switch cost.
//! - `circuit open`: the circuit is open, the turn goes straight to OpenAI.
//!
//! Run: `cargo bench -p end-to-end --bench fallback` (`FALLBACK_BENCH_TURNS`, default 300).

use std::time::{Duration, Instant};

use end_to_end::server::{TestServer, as_test_user};
use end_to_end::sse_client::read_stream_until;
use hdrhistogram::Histogram;
use serde_json::json;
use stand_ins::anthropic::{Reply, StandIn};
use stand_ins::openai::OpenAiStandIn;
use store::testing::TestDatabase;

/// A label, the Anthropic the service talks to, and its extra settings.
type Case<'a> = (&'a str, &'a StandIn, &'a [(&'a str, &'a str)]);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let turns: usize = std::env::var("FALLBACK_BENCH_TURNS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let answering = StandIn::builder().repeat(Reply::text("Squats build strong legs.")).start().await;
    let overloaded = StandIn::builder().repeat(Reply::status(529)).start().await;
    let openai = OpenAiStandIn::start().await;
    println!("fallback bench: {turns} sequential turns per case, first content_delta timed from the request");
    println!("{:<14} {:>10} {:>10} {:>10}", "case", "p50 ms", "p99 ms", "max ms");
    let cases: [Case; 3] = [
        ("anthropic", &answering, &[]),
        ("fallback", &overloaded, &[("LLM_CIRCUIT_FAILURES", "0")]),
        ("circuit open", &overloaded, &[("LLM_CIRCUIT_FAILURES", "1"), ("LLM_CIRCUIT_COOL_DOWN_SECONDS", "86400")]),
    ];
    for (label, anthropic, extra) in cases {
        let (anthropic_url, openai_url, openai_key) = (anthropic.url(), openai.url(), openai.api_key());
        let mut vars = vec![
            ("ANTHROPIC_BASE_URL", anthropic_url.as_str()),
            ("ANTHROPIC_API_KEY", "sk-ant-fallback-bench"),
            ("ANTHROPIC_MAX_RETRIES", "0"),
            ("OPENAI_BASE_URL", openai_url.as_str()),
            ("OPENAI_API_KEY", openai_key.as_str()),
            ("METRICS_ENABLED", "false"),
            ("RATE_LIMIT_FREE", "1000000"),
        ];
        vars.extend_from_slice(extra);
        let server = TestServer::start(&vars, TestDatabase::sqlite().await?).await?;
        let mut histogram = Histogram::<u64>::new(3)?;
        for i in 0..turns + 10 {
            // A new user now and then keeps per-user history short, as in real use.
            let user = format!("user_fallback_bench_{:03}", i / 20);
            let request = as_test_user(server.client().post(server.url("/chat/stream")), &user)
                .json(&json!({"message": "Legs?"}));
            let started = Instant::now();
            let t = read_stream_until(request, Duration::from_secs(30), |t| t.first("content_delta").is_some()).await?;
            let elapsed = started.elapsed();
            anyhow::ensure!(t.first("content_delta").is_some(), "{label}: no delta in {:?}", t.names());
            if i >= 10 {
                histogram.record(elapsed.as_micros() as u64)?;
            }
            server.turns_finished(Duration::from_secs(30)).await;
        }
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        println!("{label:<14} {:>10.2} {:>10.2} {:>10.2}", ms(0.5), ms(0.99), histogram.max() as f64 / 1000.0);
    }
    Ok(())
}
