//! Time from process start to `/health/ready` = 200 with cached plugin artifacts (goal ≤ 300 ms):
//! the release `chat-api` binary is spawned with the service's plugins (`target/plugins.d`), a
//! compiled-artifact cache a first start filled, and a SQLite database that first start migrated
//! (the steady state of a restart or a redeploy). `/health/ready` is polled every millisecond; it is
//! 200 once the database answers and the whole tool set is loaded.
//!
//! Run: `make bench` (or `cargo build --release -p host --bin chat-api && cargo bench -p end-to-end --bench startup`).
//! `STARTUP_BENCH_RUNS` (default 20) sets the number of starts.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::var("STARTUP_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let binary = end_to_end::release::chat_api_binary()?;
    let plugins = end_to_end::plugins::built_plugins();
    let work = tempfile::tempdir()?;
    let cache = work.path().join("plugin-cache");
    let database = format!("sqlite://{}", work.path().join("chat.db").display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    // A first start compiles every plugin into the cache and migrates the database.
    let cold = runtime.block_on(start_once(&binary, &plugins, &cache, &database))?;
    println!("first start (compiles the plugins, migrates the database): {:.0} ms", cold.as_secs_f64() * 1000.0);

    let mut histogram = Histogram::<u64>::new(3)?;
    for _ in 0..runs {
        let elapsed = runtime.block_on(start_once(&binary, &plugins, &cache, &database))?;
        histogram.record(elapsed.as_micros() as u64)?;
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    println!(
        "process start → /health/ready 200, cached plugin artifacts ({} plugins, {runs} starts): p50 {:.1} ms, p99 {:.1} ms, min {:.1} ms, max {:.1} ms (goal ≤ 300 ms)",
        std::fs::read_dir(&plugins)?
            .filter(|e| e.as_ref().is_ok_and(|e| e.path().join("plugin.toml").exists()))
            .count(),
        ms(histogram.value_at_quantile(0.5)),
        ms(histogram.value_at_quantile(0.99)),
        ms(histogram.min()),
        ms(histogram.max()),
    );
    Ok(())
}

/// Spawns the service and returns the time until `/health/ready` answered 200.
async fn start_once(binary: &Path, plugins: &Path, cache: &Path, database: &str) -> anyhow::Result<Duration> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let started = Instant::now();
    let child = Command::new(binary)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENVIRONMENT", "test")
        .env("PORT", port.to_string())
        .env("DATABASE_URL", database)
        .env("PLUGINS_DIR", plugins)
        .env("PLUGIN_CACHE_DIR", cache)
        .env("LOG_JSON", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let _child = KillOnDrop(child);
    let deadline = started + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(Instant::now() < deadline, "the service did not become ready within 60 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
