//! Logs (tracing: JSON in production, human-readable in development), Sentry, and the Prometheus
//! recorder behind `/metrics`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

use crate::config::Config;

/// Installs the global tracing subscriber once; later calls (tests building several apps) are no-ops.
pub fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,wasmtime=warn,cranelift=warn"));
    let registry = tracing_subscriber::registry().with(filter).with(sentry::integrations::tracing::layer());
    let _ = if config.telemetry.json_logs {
        registry.with(tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(true)).try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer().compact()).try_init()
    };
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
