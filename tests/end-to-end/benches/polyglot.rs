//! What writing a tool in Python or JavaScript costs next to Rust. For each language, from an empty
//! directory: `plugins new` and the generated `build.sh` (the author's time to a component), the
//! component's size, its compile time (empty artifact cache) and cached load time (as `plugins
//! check` loads it), and a trivial call (the template's greeting: no HTTP) through the registry,
//! timed end to end (host overhead: validation, a fresh sandbox, the guest's start, the result),
//! p50/p99, with the fuel it burns. Then the two ported tools next to their Rust versions
//! (`get_calendar_events` against the calendar stand-in, `navigate_to_page`).
//!
//! `cargo bench -p end-to-end --bench polyglot` (after `make plugins`, which installs the toolchains).

use std::path::Path;
use std::time::{Duration, Instant};

use end_to_end::plugins::PluginsDir;
use end_to_end::tool_world::{Patience, Ports, ToolWorld, USER, expect_ok, tool_call};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use store::Backend;
use tools::scaffold::Lang;
use tools::{HostServices, Registry, RuntimeConfig};

const CALLS: usize = 200;
const WARMUP: usize = 10;

/// Times `CALLS` calls; returns the latencies (µs) and the fuel of the last call.
async fn measure(call: impl AsyncFn() -> tools::ToolOutcome, name: &str) -> (Histogram<u64>, Option<u64>) {
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    let mut fuel = None;
    for i in 0..CALLS + WARMUP {
        let start = Instant::now();
        let outcome = call().await;
        let elapsed = start.elapsed();
        expect_ok(&outcome, name);
        fuel = outcome.fuel_consumed;
        if i >= WARMUP {
            h.record(elapsed.as_micros().max(1) as u64).expect("record");
        }
    }
    (h, fuel)
}

fn quantiles(h: &Histogram<u64>) -> String {
    let ms = |v: u64| v as f64 / 1000.0;
    format!("p50={:>7.2} ms  p99={:>7.2} ms", ms(h.value_at_quantile(0.5)), ms(h.value_at_quantile(0.99)))
}

/// A plugin made and built from an empty directory, loaded cold and cached, and called.
async fn author_and_measure(lang: Lang, label: &str) {
    let workspace = tempfile::tempdir().expect("a temporary directory");
    let name = format!("bench-{label}");
    let started = Instant::now();
    let created = tools::scaffold::new_plugin(workspace.path(), &name, lang, None).expect("plugins new");
    end_to_end::toolchains::run_build_script(&created.dir, lang);
    let authored = started.elapsed();
    let size = std::fs::metadata(created.dir.join("plugin.wasm")).expect("plugin.wasm").len();

    let cache = tempfile::tempdir().expect("a cache directory");
    let config = |dir: &Path| {
        let mut config = RuntimeConfig::new(dir);
        config.cache_dir = cache.path().to_path_buf();
        config.watch = false;
        config.compile_timeout = Duration::from_secs(900);
        config
    };
    let cold = tools::author::check(&created.dir, None, config(workspace.path())).await.expect("plugins check");
    let warm = tools::author::check(&created.dir, None, config(workspace.path())).await.expect("plugins check");
    assert!(!cold.from_cache && warm.from_cache);

    let plugins = PluginsDir::new();
    let installed = plugins.path().join(&name);
    std::fs::create_dir_all(&installed).expect("a plugin directory");
    for file in ["plugin.toml", "plugin.wasm"] {
        std::fs::copy(created.dir.join(file), installed.join(file)).expect("copying the plugin");
    }
    let registry = Registry::load(config(plugins.path()), HostServices::without_store()).await.expect("a registry");
    let function = created.function.clone();
    let (h, fuel) =
        measure(async || registry.call(tool_call(USER, &function, json!({"name": "Ada"}), None)).await, &function)
            .await;
    println!(
        "{label:<11} new+build={:>6.1} s  size={:>6.2} MB  compile={:>7.0} ms  cached load={:>6.1} ms  trivial call {}  fuel/call={}",
        authored.as_secs_f64(),
        size as f64 / 1e6,
        cold.load_time_ms,
        warm.load_time_ms,
        quantiles(&h),
        fuel.map_or("-".to_string(), |f| f.to_string()),
    );
}

/// The ported tools in both worlds: p50/p99 and fuel of each.
async fn ported_tools() {
    for ports in [Ports::Rust, Ports::PythonAndJs] {
        let world = ToolWorld::start_ports(Backend::Sqlite, Patience::ANSWERING_SERVICES, ports).await;
        world.calendar.add_event(USER, json!({"id": "evt-1", "title": "Leg Day", "scheduled_date": "2026-03-02"}));
        let cases: [(&str, Value); 2] = [
            ("get_calendar_events", json!({"start_date": "2026-03-01", "end_date": "2026-03-07"})),
            ("navigate_to_page", json!({"page": "workout", "workout_id": "w-legs"})),
        ];
        for (tool, args) in cases {
            let (h, fuel) = measure(async || world.call(tool, args.clone()).await, tool).await;
            let language = match (ports, tool) {
                (Ports::Rust, _) => "rust",
                (Ports::PythonAndJs, "get_calendar_events") => "python",
                (Ports::PythonAndJs, _) => "js",
            };
            println!("{tool:<20} {language:<7} {}  fuel/call={}", quantiles(&h), fuel.unwrap_or_default());
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        println!("a plugin per language from an empty directory ({CALLS} trivial calls each)");
        for (lang, label) in [(Lang::Rust, "rust"), (Lang::Python, "python"), (Lang::Js, "javascript")] {
            author_and_measure(lang, label).await;
        }
        println!("the ported tools next to their Rust versions ({CALLS} calls each, local stand-ins, SQLite)");
        ported_tools().await;
    });
}
