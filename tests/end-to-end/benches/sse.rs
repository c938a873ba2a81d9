//! The SSE figures of the chat-turn issue, measured against the real `chat-api` binary (release
//! build, a separate process so its memory can be read) talking to the stand-in Anthropic over
//! loopback, with a local Postgres database:
//!
//! 1. time from request to `message_start` (sequential requests);
//! 2. latency a delta gains passing through the service: the stand-in stamps each text delta with
//!    the time its bytes are written; the client subtracts on arrival — through the service, and
//!    directly from the stand-in for the baseline;
//! 3. how many concurrent streams one instance holds, and its resident memory per stream;
//! 4. how long a slow-loris client (a request head trickled a line every 2 s) keeps a connection,
//!    under the production default `HTTP_HEADER_TIMEOUT_SECONDS`, and what a normal request costs
//!    meanwhile.
//!
//! 1 and 2 run twice, to show what operations cost: with telemetry off (`METRICS_ENABLED=false`,
//! `RUST_LOG=off`, no Sentry) and on as in production (metrics recorded, JSON logs at `info`, Sentry
//! sending to a loopback stand-in with 10 % of requests traced, `/metrics` scraped every second).
//! 3 runs with telemetry on.
//!
//! Client (this benchmark), stand-in (the `anthropic-stand-in` binary) and service are three
//! processes, each raising its open-file limit to the hard limit: no process holds both ends of a
//! stream. The stand-in serves TLS with ALPN offering h2 and http/1.1, as Anthropic does, and the
//! service trusts its run-time CA through `EXTRA_CA_CERTS_FILE`; `SSE_BENCH_UPSTREAM=h1` serves
//! plain HTTP/1.1 instead (one upstream connection per stream, the earlier setup) for comparison.
//!
//! Run: `make bench` (or `cargo build --release -p host --bin chat-api && cargo bench -p end-to-end --bench sse`).
//! `SSE_BENCH_STREAMS` (default 10000) sets the size of the capacity test.

use std::io::BufRead;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use end_to_end::slow_loris::SlowLoris;
use end_to_end::sse_client::{SseTranscript, parse_blocks};
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;
use stand_ins::sentry::SentryStandIn;

const TEST_AUTH: &str = "bench-test-auth-secret";
const METRICS_TOKEN: &str = "bench-metrics-token";

fn main() -> anyhow::Result<()> {
    host::server::raise_open_file_limit();
    let open_files = open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(open_files))
}

async fn run(open_files: u64) -> anyhow::Result<()> {
    let wanted: usize = std::env::var("SSE_BENCH_STREAMS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    // One descriptor per stream here and in the service (its streams to Anthropic share HTTP/2
    // connections), plus headroom for everything else.
    let fit = open_files.saturating_sub(1_000) as usize;
    let streams = wanted.min(fit);
    if streams < wanted {
        println!("capacity test: {streams} streams, not {wanted}: the open-file limit is {open_files} (1 per stream)");
    }
    let upstream = Upstream::from_env();
    let binary = end_to_end::release::chat_api_binary()?;
    let database = BenchDatabase::create().await?;
    println!(
        "setup: client (this process), stand-in Anthropic and service are separate processes, none pinned: they share the machine's {} cores (load average at start: {}); open-file limit {open_files} each; upstream {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        upstream.label(),
    );

    // `SSE_BENCH_ONLY=capacity` runs figure 3 alone.
    let all_figures = std::env::var("SSE_BENCH_ONLY").as_deref() != Ok("capacity");

    // 1 + 2: a stand-in with short, fast replies (50 deltas 20 ms apart); telemetry off, then on.
    let fast = StandInProcess::spawn(upstream, 50, Duration::from_millis(20))?;
    let sentry = SentryStandIn::start().await;
    let client = fast.trusting(reqwest::Client::builder().pool_max_idle_per_host(256)).build()?;
    if all_figures {
        let direct = delta_latency(&client, 100, |_| {
            client.post(format!("{}/v1/messages", fast.url)).json(&json!({
                "model": "m", "max_tokens": 10, "stream": true, "messages": [{"role": "user", "content": "hi"}]
            }))
        })
        .await?;
        let mut figures = Vec::new();
        for telemetry in [Telemetry::Off, Telemetry::On { sentry_dsn: sentry.dsn() }] {
            let label = telemetry.label();
            let service = Service::spawn(&binary, &fast, &database.url, &telemetry, 1_000)?;
            service.wait_ready().await?;
            let scraper =
                telemetry.is_on().then(|| tokio::spawn(scrape_every_second(client.clone(), service.url.clone())));
            let to_start = time_to_message_start(&client, &service.url, label).await?;
            let through =
                delta_latency(&client, 100, |i| chat(&client, &service.url, &format!("user_lat_{label}_{i:05}")))
                    .await?;
            if let Some(scraper) = scraper {
                scraper.abort();
            }
            println!(
                "[telemetry {label}] request → message_start (sequential, 200 requests): p50 {:.2} ms, p99 {:.2} ms",
                ms(to_start.value_at_quantile(0.5)),
                ms(to_start.value_at_quantile(0.99))
            );
            println!(
                "[telemetry {label}] delta latency, upstream write → client read (100 concurrent streams × 50 deltas): through the service p50 {} µs, p99 {} µs; directly from the stand-in p50 {} µs, p99 {} µs; added by the service p50 {} µs, p99 {} µs",
                through.value_at_quantile(0.5),
                through.value_at_quantile(0.99),
                direct.value_at_quantile(0.5),
                direct.value_at_quantile(0.99),
                through.value_at_quantile(0.5).saturating_sub(direct.value_at_quantile(0.5)),
                through.value_at_quantile(0.99).saturating_sub(direct.value_at_quantile(0.99)),
            );
            figures.push((to_start, through));
            drop(service);
        }
        let (off, on) = (&figures[0], &figures[1]);
        let diff = |on: u64, off: u64| on as f64 - off as f64;
        println!(
            "telemetry overhead (on − off): request → message_start p50 {:+.2} ms, p99 {:+.2} ms; delta latency p50 {:+.0} µs, p99 {:+.0} µs; Sentry envelopes received: {}",
            diff(on.0.value_at_quantile(0.5), off.0.value_at_quantile(0.5)) / 1000.0,
            diff(on.0.value_at_quantile(0.99), off.0.value_at_quantile(0.99)) / 1000.0,
            diff(on.1.value_at_quantile(0.5), off.1.value_at_quantile(0.5)),
            diff(on.1.value_at_quantile(0.99), off.1.value_at_quantile(0.99)),
            sentry.envelopes().len(),
        );
    }

    // 3: long streams (a delta every 2 s for 4 minutes) held open together.
    let slow = StandInProcess::spawn(upstream, 120, Duration::from_secs(2))?;
    let telemetry = Telemetry::On { sentry_dsn: sentry.dsn() };
    let service = Service::spawn(&binary, &slow, &database.url, &telemetry, streams + 100)?;
    service.wait_ready().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline_kib = service.rss_kib()?;
    let open = Arc::new(AtomicUsize::new(0));
    let deltas = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let ramp_started = Instant::now();
    let mut tasks = Vec::with_capacity(streams);
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    for i in 0..streams {
        let request = chat(&client, &service.url, &format!("user_cap_{i:06}"));
        let (open, deltas, failed) = (open.clone(), deltas.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let response = match request.send().await {
                Ok(response) => response,
                Err(err) => {
                    if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                        println!("first failure: {err:#}");
                    }
                    return;
                }
            };
            let mut body = response.bytes_stream();
            let mut counted = false;
            while let Some(Ok(chunk)) = body.next().await {
                let text = String::from_utf8_lossy(&chunk);
                if !counted && text.contains("message_start") {
                    open.fetch_add(1, Ordering::Relaxed);
                    counted = true;
                }
                deltas.fetch_add(text.matches("content_delta").count() as u64, Ordering::Relaxed);
                if text.contains("event: error") && failed.fetch_add(1, Ordering::Relaxed) == 0 {
                    println!("first failure: {text}");
                }
            }
        }));
        // Ramp at about 1,000 new streams per second.
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(200);
    while open.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < streams && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ramp = ramp_started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = deltas.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let flowing = deltas.load(Ordering::Relaxed) - before;
    let held_kib = service.rss_kib()?;
    let held = open.load(Ordering::Relaxed);
    println!(
        "capacity: {held}/{streams} streams open together ({} failed), ramp {:.1} s; {} deltas/s flowing while held",
        failed.load(Ordering::Relaxed),
        ramp.as_secs_f64(),
        flowing / 6
    );
    println!(
        "memory: service RSS {:.1} MiB idle → {:.1} MiB with {held} streams = {:.1} KiB per stream",
        baseline_kib as f64 / 1024.0,
        held_kib as f64 / 1024.0,
        (held_kib.saturating_sub(baseline_kib)) as f64 / held.max(1) as f64
    );
    for task in tasks {
        task.abort();
    }
    drop(service);

    // 4: slow-loris clients against the default header timeout.
    if all_figures {
        let service = Service::spawn(&binary, &fast, &database.url, &Telemetry::Off, 1_000)?;
        service.wait_ready().await?;
        let limit = Duration::from_secs(60);
        let lorises = (0..SLOW_LORIS_CLIENTS).map(|_| tokio::spawn(slow_loris(service.addr, limit)));
        let lorises: Vec<_> = lorises.collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut health = Histogram::<u64>::new(3)?;
        for _ in 0..20 {
            let started = Instant::now();
            client.get(format!("{}/health", service.url)).send().await?.error_for_status()?;
            health.record(started.elapsed().as_micros() as u64)?;
        }
        let mut closed = Histogram::<u64>::new(3)?;
        let mut still_open = 0;
        for loris in lorises {
            match loris.await? {
                Some(after) => closed.record(after.as_millis() as u64)?,
                None => still_open += 1,
            }
        }
        println!(
            "slow loris ({SLOW_LORIS_CLIENTS} connections, a header line every 2 s, default header timeout): closed after p50 {:.2} s, max {:.2} s; {still_open} still open after {} s; GET /health meanwhile p50 {:.2} ms, p99 {:.2} ms",
            closed.value_at_quantile(0.5) as f64 / 1000.0,
            closed.max() as f64 / 1000.0,
            limit.as_secs(),
            ms(health.value_at_quantile(0.5)),
            ms(health.value_at_quantile(0.99)),
        );
        drop(service);
    }
    database.drop_it().await;
    Ok(())
}

/// Slow-loris connections of the last figure.
const SLOW_LORIS_CLIENTS: usize = 100;

/// A slow-loris connection trickling a header line every 2 s; how long until the service closed
/// it (`None`: still open after `limit`).
async fn slow_loris(addr: std::net::SocketAddr, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let loris = SlowLoris::start(addr, Duration::from_secs(2)).await.ok()?;
    loris.closed_within(limit).await.map(|_| started.elapsed())
}

/// Sequential requests; the time from sending each to its `message_start`.
async fn time_to_message_start(client: &reqwest::Client, base: &str, label: &str) -> anyhow::Result<Histogram<u64>> {
    let mut to_start = Histogram::<u64>::new(3)?;
    for i in 0..200 {
        let started = Instant::now();
        let mut first = None;
        let response = chat(client, base, &format!("user_seq_{label}_{i:05}")).send().await?;
        let mut body = response.bytes_stream();
        let mut buf = String::new();
        let mut out = SseTranscript::default();
        while let Some(chunk) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk?).replace("\r\n", "\n"));
            parse_blocks(&mut buf, &mut out);
            if first.is_none() && out.first("message_start").is_some() {
                first = Some(started.elapsed());
                break;
            }
        }
        to_start.record(first.expect("message_start").as_micros() as u64)?;
    }
    Ok(to_start)
}

/// What Prometheus does while the benchmark runs.
async fn scrape_every_second(client: reqwest::Client, base: String) {
    loop {
        let _ = client.get(format!("{base}/metrics")).bearer_auth(METRICS_TOKEN).send().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// The operations settings of a run.
enum Telemetry {
    /// No metrics recorder, no logs, no Sentry.
    Off,
    /// Production: metrics, JSON logs at `info`, Sentry (to a stand-in) with 10 % of requests traced.
    On { sentry_dsn: String },
}

impl Telemetry {
    fn label(&self) -> &'static str {
        match self {
            Telemetry::Off => "off",
            Telemetry::On { .. } => "on",
        }
    }

    fn is_on(&self) -> bool {
        matches!(self, Telemetry::On { .. })
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        match self {
            Telemetry::Off => vec![("METRICS_ENABLED", "false".into()), ("RUST_LOG", "off".into())],
            Telemetry::On { sentry_dsn } => vec![
                ("METRICS_ENABLED", "true".into()),
                ("RUST_LOG", "info".into()),
                ("LOG_JSON", "true".into()),
                ("SENTRY_DSN", sentry_dsn.clone()),
                ("SENTRY_TRACES_SAMPLE_RATE", "0.1".into()),
            ],
        }
    }
}

/// A `POST /chat/stream` as `user` (each user has its own monthly quota).
fn chat(client: &reqwest::Client, base: &str, user: &str) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/chat/stream"))
        .header("X-Test-Auth", TEST_AUTH)
        .header("X-Test-User-Id", user)
        .json(&json!({"message": "Plan my week"}))
}

/// Runs `n` streams at once and records, per text delta, now − the time stamped into it.
async fn delta_latency(
    _client: &reqwest::Client,
    n: usize,
    request: impl Fn(usize) -> reqwest::RequestBuilder,
) -> anyhow::Result<Histogram<u64>> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let request = request(i);
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let response = request.send().await?;
            let mut body = response.bytes_stream();
            let mut buf = String::new();
            while let Some(chunk) = body.next().await {
                let now = now_us();
                buf.push_str(&String::from_utf8_lossy(&chunk?));
                // Each stamp is 16 digits followed by ';'.
                while let Some(end) = buf.find(';') {
                    let stamp = &buf[end.saturating_sub(16)..end];
                    if let Ok(sent) = stamp.parse::<u64>() {
                        samples.push(now.saturating_sub(sent));
                    }
                    buf.drain(..=end);
                }
            }
            anyhow::Ok(samples)
        }));
    }
    let mut histogram = Histogram::<u64>::new(3)?;
    for task in tasks {
        for sample in task.await?? {
            histogram.record(sample)?;
        }
    }
    Ok(histogram)
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64
}

/// The service under measurement, as its own process.
struct Service {
    child: Child,
    url: String,
    addr: std::net::SocketAddr,
}

impl Service {
    /// `max_connections`: its `HTTP_MAX_CONNECTIONS`.
    fn spawn(
        binary: &std::path::Path,
        anthropic: &StandInProcess,
        database_url: &str,
        telemetry: &Telemetry,
        max_connections: usize,
    ) -> anyhow::Result<Service> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let plugins = tempfile::tempdir()?.keep();
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ENVIRONMENT", "test")
            .env("PORT", port.to_string())
            .env("DATABASE_URL", database_url)
            .env("DATABASE_MAX_CONNECTIONS", "32")
            .env("ANTHROPIC_BASE_URL", &anthropic.url)
            .envs(anthropic.ca_file.iter().map(|file| ("EXTRA_CA_CERTS_FILE", file)))
            .env("HTTP_MAX_CONNECTIONS", max_connections.to_string())
            .env("ANTHROPIC_API_KEY", "bench-key")
            .env("TEST_AUTH_SECRET", TEST_AUTH)
            .env("PLUGINS_DIR", plugins)
            .env("PLUGINS_WATCH", "false")
            .env("SSE_CONNECTIONS_WARN", "1000000")
            .env("SSE_CONNECTIONS_CRITICAL", "1000000")
            .env("METRICS_TOKEN", METRICS_TOKEN)
            .envs(telemetry.vars())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = command.spawn()?;
        Ok(Service { child, url: format!("http://127.0.0.1:{port}"), addr: ([127, 0, 0, 1], port).into() })
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(format!("{}/health/ready", self.url)).await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("the service did not become ready")
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
        Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway database on the local Postgres.
struct BenchDatabase {
    name: String,
    url: String,
}

impl BenchDatabase {
    async fn create() -> anyhow::Result<BenchDatabase> {
        use sqlx::Connection;
        let admin_url = store::testing::postgres_url();
        let name = format!("bench_sse_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut admin).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
        let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin_url);
        Ok(BenchDatabase { url: format!("{base}/{name}"), name })
    }

    async fn drop_it(self) {
        use sqlx::Connection;
        if let Ok(mut admin) = sqlx::PgConnection::connect(&store::testing::postgres_url()).await {
            let _ =
                sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut admin).await;
        }
    }
}

/// The soft open-file limit (raised to the hard limit by `main`).
fn open_file_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1_024;
    }
    limit.rlim_cur
}

/// How the stand-in serves the service: TLS with ALPN (h2 and http/1.1), as Anthropic does, or
/// plain HTTP/1.1 (`SSE_BENCH_UPSTREAM=h1`), one connection per stream.
#[derive(Clone, Copy, Debug)]
enum Upstream {
    Tls,
    PlainHttp1,
}

impl Upstream {
    fn from_env() -> Upstream {
        match std::env::var("SSE_BENCH_UPSTREAM").as_deref() {
            Ok("h1") => Upstream::PlainHttp1,
            _ => Upstream::Tls,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Upstream::Tls => "TLS, HTTP/2 by ALPN (SSE_BENCH_UPSTREAM=h1 for plain HTTP/1.1)",
            Upstream::PlainHttp1 => "plain HTTP/1.1, one connection per stream (SSE_BENCH_UPSTREAM=h1)",
        }
    }
}

/// The stand-in Anthropic as its own process (`anthropic-stand-in`), answering every request with
/// `deltas` stamped text deltas `every` apart. It exits when dropped (its stdin closes, and it is
/// killed).
struct StandInProcess {
    child: Child,
    /// Held open: the stand-in exits when it closes.
    _stdin: ChildStdin,
    url: String,
    ca_file: Option<String>,
}

impl StandInProcess {
    fn spawn(upstream: Upstream, deltas: usize, every: Duration) -> anyhow::Result<StandInProcess> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_anthropic-stand-in"));
        command
            .args(["--deltas", &deltas.to_string(), "--every-ms", &every.as_millis().to_string()])
            .env("RUST_LOG", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if matches!(upstream, Upstream::Tls) {
            command.arg("--tls");
        }
        let mut child = command.spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line)?;
        let ready: serde_json::Value = serde_json::from_str(&line)
            .map_err(|err| anyhow::anyhow!("the stand-in did not say where it listens ({err}): {line:?}"))?;
        let url = ready["url"].as_str().ok_or_else(|| anyhow::anyhow!("no url in {line:?}"))?.to_string();
        let ca_file = ready["ca_file"].as_str().map(str::to_string);
        Ok(StandInProcess { child, _stdin: stdin, url, ca_file })
    }

    /// `builder`, trusting the stand-in's test CA (when it serves TLS).
    fn trusting(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        let Some(file) = &self.ca_file else { return builder };
        let pem = std::fs::read(file).expect("the stand-in's CA file");
        let ca = reqwest::Certificate::from_pem(&pem).expect("a PEM certificate");
        builder.add_root_certificate(ca)
    }
}

impl Drop for StandInProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
