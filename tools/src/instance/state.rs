//! What one store holds: a minimal WASI context (no preopens, no environment, no arguments, no
//! sockets or name lookups, stdin closed, stdout discarded, stderr captured), the `wasi:http`
//! context with the plugin's egress hooks, the memory limiter, and the host-capability context.
//! [`new_store`] also arms the fuel budget and the epoch deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use http::HeaderValue;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::stderr::StderrCapture;
use crate::capabilities::HostCtx;
use crate::egress::{EgressHooks, EgressPolicy, RequestSlots, Violations};
use crate::engine::Runtime;
use crate::limits::MemoryLimiter;
use crate::manifest::Limits;

/// Host-side resources (HTTP requests, headers, streams…) one call may hold at once: plenty for a
/// tool, and a bound on the host memory a guest can make the host allocate.
const MAX_RESOURCES: usize = 4096;

/// The data of one store.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    pub egress: EgressHooks,
    pub limiter: MemoryLimiter,
    pub host: HostCtx,
    pub stderr: StderrCapture,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.egress }
    }
}

/// Everything a store is made from.
pub struct StoreSpec<'a> {
    pub plugin: &'a Arc<str>,
    pub function: Arc<str>,
    pub limits: &'a Limits,
    pub egress: &'a Arc<EgressPolicy>,
    pub config: &'a Arc<BTreeMap<String, String>>,
    /// `None` while describing.
    pub user_id: Option<&'a str>,
    pub request_id: &'a str,
    /// The caller's `Authorization`, added to requests whose rule forwards user auth.
    pub authorization: Option<&'a str>,
    pub deadline: Instant,
}

/// A store ready to instantiate the plugin in: limits, fuel and deadline armed.
pub fn new_store(runtime: &Runtime, spec: StoreSpec<'_>) -> Store<CallState> {
    let stderr = StderrCapture::default();
    let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_RESOURCES);
    let state = CallState {
        wasi,
        table,
        http: WasiHttpCtx::new(),
        egress: EgressHooks {
            policy: spec.egress.clone(),
            network: runtime.network.clone(),
            authorization: spec.authorization.and_then(sensitive_header),
            user_id: spec.user_id.and_then(sensitive_header),
            deadline: spec.deadline,
            max_response_bytes: spec.limits.max_response_bytes,
            violations: Violations::default(),
            requests: 0,
            slots: RequestSlots::new(spec.limits.max_requests_in_flight),
        },
        limiter: MemoryLimiter::new(spec.limits.memory_bytes),
        host: HostCtx {
            plugin: spec.plugin.clone(),
            function: spec.function,
            user_id: spec.user_id.map(str::to_string),
            request_id: spec.request_id.to_string(),
            config: spec.config.clone(),
            services: runtime.services.clone(),
            state_quota: store::StateQuota {
                max_keys: spec.limits.state_max_keys,
                max_bytes: spec.limits.state_max_bytes,
            },
            log_lines: 0,
        },
        stderr,
    };
    let mut store = Store::new(&runtime.engine, state);
    store.limiter(|state| &mut state.limiter);
    store.set_fuel(spec.limits.fuel).expect("the engine consumes fuel");
    // Every epoch tick (10 ms) the running guest yields to the async runtime (so one CPU-bound
    // plugin cannot hog a worker thread); once the deadline has passed it is interrupted instead.
    let deadline = spec.deadline;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline { Ok(UpdateDeadline::Interrupt) } else { Ok(UpdateDeadline::Yield(1)) }
    });
    store
}

/// A header value the host adds on the way out; marked sensitive so it never shows in debug output.
fn sensitive_header(value: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(value).ok()?;
    value.set_sensitive(true);
    Some(value)
}
