//! Resident memory of the process while 64 calls of a plugin allowed 128 MiB each run under a
//! 512 MiB memory budget (`PLUGIN_MEMORY_BUDGET_BYTES`). `memory-hog` (a test plugin, `make
//! plugins`) fills 120 MiB of its memory, then waits on a request to a loopback server. Two runs:
//! - held: the server holds every answer, so four calls hold the whole budget and the other 60
//!   wait `PLUGIN_MEMORY_WAIT_MS` (2 s) and are answered `busy`; then the answers are released.
//! - flowing: the server answers at once and calls wait up to their deadline, so all 64 succeed,
//!   at most four at a time.
//!
//! The resident set (`/proc/self/statm`) is sampled every 5 ms; the peak is printed with the
//! baseline before the calls. Without the budget, 64 such calls would hold 7.5 GiB at once.
//!
//! `cargo bench -p end-to-end --bench memory_budget`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use end_to_end::plugins::{PluginsDir, built_test_plugins};
use end_to_end::process_memory::resident_bytes;
use serde_json::json;
use stand_ins::recording_server::RecordingServer;
use store::testing::TestDatabase;
use tools::{HostServices, Registry, RuntimeConfig};

const CALLS: usize = 64;
const BUDGET: u64 = 512 << 20;

/// Samples the resident set until dropped; `peak` is the highest seen.
struct PeakSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl PeakSampler {
    fn start() -> PeakSampler {
        let (peak, stop) = (Arc::new(AtomicU64::new(resident_bytes())), Arc::new(AtomicBool::new(false)));
        let (seen, stopped) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                seen.fetch_max(resident_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        PeakSampler { peak, stop }
    }

    fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for PeakSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

async fn registry(origin: &str, wait: Duration) -> (Arc<Registry>, TestDatabase, PluginsDir) {
    let dir = PluginsDir::new();
    dir.add("memory-hog");
    let mut config = RuntimeConfig::new(dir.path());
    config.defaults.settings = [("HOG_ORIGIN".to_string(), origin.to_string())].into();
    config.policy = tools::PluginPolicy::configured([origin], [], true);
    config.memory_budget_bytes = BUDGET;
    config.memory_wait = wait;
    let db = TestDatabase::sqlite().await.expect("a test database");
    let registry = Registry::load(config, HostServices::new(db.store.clone())).await.expect("starting the runtime");
    (registry, db, dir)
}

/// Runs the 64 calls; `release` runs once the calls are started and may open the server's gate.
async fn run(registry: &Arc<Registry>, label: &str, release: impl AsyncFnOnce(&[tokio::task::JoinHandle<String>])) {
    let baseline = resident_bytes();
    let sampler = PeakSampler::start();
    let started = Instant::now();
    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let registry = registry.clone();
            tokio::spawn(async move {
                let call = end_to_end::tool_world::tool_call("bench", "hold", json!({}), None);
                registry.call(call).await.result.map(|_| "ok".to_string()).unwrap_or_else(|err| err.code)
            })
        })
        .collect();
    release(&calls).await;
    let mut codes = Vec::new();
    for call in calls {
        codes.push(call.await.expect("a call task"));
    }
    let elapsed = started.elapsed();
    let ok = codes.iter().filter(|c| *c == "ok").count();
    let busy = codes.iter().filter(|c| *c == "busy").count();
    println!(
        "{label:<8} {CALLS} calls of memory-hog (128 MiB limit, 120 MiB touched), budget {} MiB: \
         resident baseline {} MiB, peak {} MiB (peak - baseline {} MiB); {ok} ok, {busy} busy, {} other; {:.2} s",
        BUDGET >> 20,
        baseline >> 20,
        sampler.peak() >> 20,
        sampler.peak().saturating_sub(baseline) >> 20,
        CALLS - ok - busy,
        elapsed.as_secs_f64()
    );
}

fn main() {
    assert!(built_test_plugins().join("memory-hog").exists(), "run `make plugins` first");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        // Held: four calls hold the budget until the 60 others were answered `busy`.
        let (server, gate) = RecordingServer::gated(json!({})).await;
        let (hogs, _db, _dir) = registry(&server.url(), Duration::from_millis(2000)).await;
        run(&hogs, "held", async |calls| {
            while calls.iter().filter(|c| c.is_finished()).count() < CALLS - 4 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            gate.open();
        })
        .await;
        drop(hogs);

        // Flowing: every call waits for its turn and succeeds, four at a time.
        let server = RecordingServer::json(json!({})).await;
        let (registry, _db, _dir) = registry(&server.url(), Duration::from_secs(120)).await;
        run(&registry, "flowing", async |_| {}).await;
    });
}
