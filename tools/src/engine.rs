//! The one wasmtime engine of the process and what is shared by every plugin and call: the linker
//! (WASI without filesystem, sockets or environment; `wasi:http` through the egress hooks; the
//! host interface), the epoch ticker, the artifact cache, the egress network and the pool of call
//! slots.
//!
//! The engine uses the component model, epoch interruption, fuel and, when the host can reserve
//! the address space, the pooling instance allocator (instantiation in microseconds: memories and
//! tables are recycled, linear memory is reset by scanning for dirty pages). A start-up probe
//! instantiates a module in the pool; if that fails the engine falls back to on-demand allocation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Semaphore;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, Module, PoolingAllocationConfig, Store};

use crate::RuntimeConfig;
use crate::bindings::host;
use crate::cache::ArtifactCache;
use crate::capabilities::HostCtx;
use crate::egress::Network;
use crate::instance::CallState;
use crate::memory_budget::MemoryBudget;
use crate::plugin_values::StoredValues;
use crate::services::HostServices;

/// How often the epoch advances: the granularity of deadlines and of a busy guest's yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Everything shared by the plugins of one registry.
pub struct Runtime {
    pub engine: Engine,
    pub linker: Linker<CallState>,
    /// Whether the pooling allocator is in use (else on-demand allocation).
    pub pooling: bool,
    pub network: Arc<Network>,
    pub services: Arc<HostServices>,
    pub cache: ArtifactCache,
    /// One permit per call that may run at once (the pool's capacity).
    pub slots: Arc<Semaphore>,
    /// The linear memory running calls may hold together.
    pub memory: MemoryBudget,
    pub config: RuntimeConfig,
    /// The plugins' stored settings and secrets manifests are interpolated with (swapped whole
    /// when the database's change).
    pub values: arc_swap::ArcSwap<StoredValues>,
    _ticker: EpochTicker,
}

impl Runtime {
    pub fn new(config: RuntimeConfig, services: HostServices) -> anyhow::Result<Runtime> {
        let network = Network::new(&config.resolve);
        Runtime::with_network(config, services, network)
    }

    /// A runtime whose plugins' requests go through `network` (`plugins test` replays them).
    pub fn with_network(config: RuntimeConfig, services: HostServices, network: Network) -> anyhow::Result<Runtime> {
        let (engine, pooling) = build_engine(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wasmtime_error).context("linking WASI")?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(wasmtime_error)
            .context("linking wasi:http")?;
        host::add_to_linker::<CallState, HasSelf<HostCtx>>(&mut linker, |state| &mut state.host)
            .map_err(wasmtime_error)
            .context("linking the host interface")?;
        let cache = ArtifactCache::new(&config.cache_dir, &engine);
        Ok(Runtime {
            _ticker: EpochTicker::start(&engine),
            network: Arc::new(network.with_trace_context(config.trace_context.clone())),
            services: Arc::new(services),
            slots: Arc::new(Semaphore::new(config.max_concurrent_calls as usize)),
            memory: MemoryBudget::new(config.memory_budget_bytes, config.memory_wait),
            engine,
            linker,
            pooling,
            cache,
            config,
            values: arc_swap::ArcSwap::from_pointee(StoredValues { generation: -1, ..StoredValues::default() }),
        })
    }
}

/// wasmtime's error type is not `std::error::Error`; keep its whole chain as text.
pub fn wasmtime_error(err: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{err:#}")
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // The smallest surface plugins need (Rust, Python and JavaScript components alike): no GC,
    // exceptions or threads (not compiled in), and no 64-bit or multiple memories, stack switching,
    // wide arithmetic or custom page sizes.
    config.wasm_gc(false);
    config.wasm_memory64(false);
    config.wasm_multi_memory(false);
    config.wasm_stack_switching(false);
    config.wasm_wide_arithmetic(false);
    config.wasm_custom_page_sizes(false);
    config.epoch_interruption(true);
    config.consume_fuel(true);
    // Trap backtraces cost time on every trap and tell the model nothing; panics reach the log
    // through the guest's stderr instead.
    config.wasm_backtrace_max_frames(None);
    config.parallel_compilation(true);
    config
}

fn build_engine(runtime: &RuntimeConfig) -> anyhow::Result<(Engine, bool)> {
    if runtime.pooling {
        let mut config = base_config();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config(runtime)));
        match Engine::new(&config).map_err(wasmtime_error).and_then(|engine| probe(&engine).map(|()| engine)) {
            Ok(engine) => return Ok((engine, true)),
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "pooling allocator unavailable; using on-demand allocation")
            }
        }
    }
    let engine = Engine::new(&base_config()).map_err(wasmtime_error).context("creating the wasm engine")?;
    Ok((engine, false))
}

/// The pool: room for `max_concurrent_calls` instances of a typical Rust tool component (one
/// linear memory, a few core instances and tables), memories up to `max_memory_bytes`. The pool
/// reserves address space for every slot, not memory: what calls touch is bounded by the memory
/// budget (`memory_budget.rs`); what a finished call leaves resident is at most
/// `linear_memory_keep_resident` per memory slot (1 MiB × 2 × `max_concurrent_calls`).
fn pooling_config(runtime: &RuntimeConfig) -> PoolingAllocationConfig {
    let calls = runtime.max_concurrent_calls.max(1);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(calls)
        .total_core_instances(calls * 16)
        .total_memories(calls * 2)
        .total_tables(calls * 16)
        .total_stacks(calls)
        .max_memory_size(usize::try_from(runtime.max_memory_bytes).unwrap_or(usize::MAX))
        .max_core_instances_per_component(64)
        .max_memories_per_component(16)
        .max_tables_per_component(64)
        // Reset a recycled memory by rewriting the pages a call dirtied (found with PAGEMAP_SCAN
        // where the kernel has it) instead of unmapping them: the next call takes no page faults.
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto);
    pool
}

/// Instantiates a module with one page of memory in the pool (a pool that cannot reserve its
/// slots fails here, at start-up, not on the first call).
fn probe(engine: &Engine) -> anyhow::Result<()> {
    // (module (memory 1))
    const MODULE: &[u8] = &[0, b'a', b's', b'm', 1, 0, 0, 0, 5, 3, 1, 0, 1];
    let module = Module::new(engine, MODULE).map_err(wasmtime_error)?;
    let mut store = Store::new(engine, ());
    wasmtime::Instance::new(&mut store, &module, &[]).map_err(wasmtime_error)?;
    Ok(())
}

/// A thread advancing the engine's epoch every [`EPOCH_TICK`]. It holds the engine weakly and
/// stops when the runtime is dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
