//! Figures of the tool runtime, with the real example plugin (`make plugins` first):
//!
//! 1. host overhead of a trivial call (`echo`: fresh store, instantiate, call, drop), p50/p99;
//! 2. calls per second with 2 and 64 concurrent callers;
//! 3. reload time with and without a cached compiled artifact;
//! 4. failed calls while the plugin is reloaded continuously under load.
//!
//! Run with `make bench` or `cargo bench -p tools --bench runtime`. `RUNTIME_BENCH=latency`
//! (or `throughput`, `reload`, `storm`, comma-separated) runs only those parts (for profiling).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use store::testing::TestDatabase;
use tools::{Caller, HostServices, PluginPolicy, Registry, ReloadOutcome, RuntimeConfig, ToolCall};

const WARMUP_CALLS: usize = 2_000;
const MEASURED_CALLS: usize = 20_000;
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(3);

fn main() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let plugins = tempfile::tempdir().expect("a temporary directory");
    copy_echo(plugins.path());
    let db = TestDatabase::sqlite().await.expect("a database");
    let mut config = RuntimeConfig::new(plugins.path());
    config.max_concurrent_calls = 128;
    // Echo's origin, trusted as a development host trusts its configured services.
    config.policy = PluginPolicy::configured(["http://localhost:8001"], [], true);
    let registry =
        Registry::load(config.clone(), HostServices::new(db.store.clone())).await.expect("starting the runtime");
    assert_eq!(registry.functions().len(), 2, "echo did not load");
    println!("tool runtime benchmark (pooling allocator: {})", registry.pooling());
    println!();

    let only = std::env::var("RUNTIME_BENCH").unwrap_or_default();
    let part = |name: &str| only.is_empty() || only.split(',').any(|p| p == name);
    if part("latency") {
        trivial_call_latency(&registry).await;
    }
    if part("throughput") {
        for callers in [2, 64] {
            throughput(&registry, callers).await;
        }
    }
    if part("reload") {
        reload_times(&registry, &config.cache_dir).await;
    }
    if part("storm") {
        reloads_under_load(&registry).await;
    }
}

fn call() -> ToolCall {
    ToolCall {
        function: "echo".into(),
        arguments: json!({"text": "hi"}),
        caller: Caller {
            user_id: "bench-user".into(),
            session_id: None,
            request_id: "bench".into(),
            authorization: None,
            via: Default::default(),
        },
    }
}

async fn trivial_call_latency(registry: &Registry) {
    for _ in 0..WARMUP_CALLS {
        assert!(!registry.call(call()).await.is_error());
    }
    let mut histogram = Histogram::<u64>::new(3).expect("a histogram");
    for _ in 0..MEASURED_CALLS {
        let call = call();
        let started = Instant::now();
        let outcome = registry.call(call).await;
        let elapsed = started.elapsed();
        assert!(!outcome.is_error(), "{:?}", outcome.result);
        histogram.record(elapsed.as_nanos() as u64).expect("recording");
    }
    let micros = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "trivial call (fresh store + instantiate + call), {MEASURED_CALLS} calls: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        micros(0.5),
        micros(0.99),
        micros(0.999),
        histogram.max() as f64 / 1000.0
    );
}

/// Callers calling echo in a loop until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(registry: &Arc<Registry>, callers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let tasks = (0..callers)
            .map(|_| {
                let (registry, stop, done, failed) = (registry.clone(), stop.clone(), done.clone(), failed.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let outcome = registry.call(call()).await;
                        done.fetch_add(1, Ordering::Relaxed);
                        if outcome.is_error() {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        Load { stop, done, failed, tasks }
    }

    /// Stops the callers; returns (calls, failed calls).
    async fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a caller");
        }
        (self.done.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }
}

async fn throughput(registry: &Arc<Registry>, callers: usize) {
    let started = Instant::now();
    let load = Load::start(registry, callers);
    tokio::time::sleep(THROUGHPUT_WINDOW).await;
    let (done, failed) = load.stop().await;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "throughput with {callers:>2} concurrent callers: {:.0} calls/s ({done} calls, {failed} failed)",
        done as f64 / seconds
    );
}

async fn reload_times(registry: &Registry, cache_dir: &Path) {
    let mut cached = Histogram::<u64>::new(3).expect("a histogram");
    for _ in 0..50 {
        let report = registry.reload("echo").await.expect("reloading");
        assert_eq!((report.outcome, report.from_cache), (ReloadOutcome::Loaded, Some(true)), "{report:?}");
        cached.record((report.load_time_ms.unwrap() * 1000.0) as u64).expect("recording");
    }
    let mut compiled = Histogram::<u64>::new(3).expect("a histogram");
    for _ in 0..5 {
        let _ = std::fs::remove_dir_all(cache_dir);
        std::fs::create_dir_all(cache_dir).expect("recreating the cache");
        let report = registry.reload("echo").await.expect("reloading");
        assert_eq!((report.outcome, report.from_cache), (ReloadOutcome::Loaded, Some(false)), "{report:?}");
        compiled.record((report.load_time_ms.unwrap() * 1000.0) as u64).expect("recording");
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "reload with a cached artifact (50 reloads): p50 {:.2} ms, p99 {:.2} ms",
        ms(&cached, 0.5),
        ms(&cached, 0.99)
    );
    println!(
        "reload with compilation (5 reloads, cache emptied): p50 {:.1} ms, max {:.1} ms",
        ms(&compiled, 0.5),
        compiled.max() as f64 / 1000.0
    );
}

async fn reloads_under_load(registry: &Arc<Registry>) {
    let load = Load::start(registry, 16);
    let started = Instant::now();
    let mut reloads = 0;
    while started.elapsed() < THROUGHPUT_WINDOW {
        let report = registry.reload("echo").await.expect("reloading");
        assert_eq!(report.outcome, ReloadOutcome::Loaded);
        reloads += 1;
    }
    let (done, failed) = load.stop().await;
    println!(
        "continuous reloads under load (16 callers, {reloads} reloads in {:.0} s): {done} calls, {failed} failed",
        started.elapsed().as_secs_f64()
    );
}

/// Copies the built echo plugin into `dir`.
fn copy_echo(dir: &Path) {
    let built: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins.d/echo");
    assert!(built.join("plugin.wasm").exists(), "{} is missing: run `make plugins` first", built.display());
    let target = dir.join("echo");
    std::fs::create_dir_all(&target).expect("creating the plugin directory");
    for file in ["plugin.toml", "plugin.wasm"] {
        std::fs::copy(built.join(file), target.join(file)).expect("copying the plugin");
    }
}
