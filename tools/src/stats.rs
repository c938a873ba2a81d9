//! Per-plugin call statistics for the admin listing: calls, failures by code, the last error, the
//! latency of recent calls ([`crate::latency`]). Kept
//! per plugin name, so they survive reloads; the Prometheus metrics carry the same data as time
//! series (`tool_calls_total`, `tool_call_duration_seconds`, `tool_call_fuel_consumed`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;

use crate::latency::{LatencySummary, LatencyWindow};

/// Counters of one plugin.
#[derive(Default)]
pub struct PluginStats {
    calls: AtomicU64,
    failures: Mutex<Failures>,
    latency: Mutex<LatencyWindow>,
}

#[derive(Default)]
struct Failures {
    by_code: BTreeMap<String, u64>,
    last: Option<LastError>,
}

/// The most recent failure of a plugin, for operators (the detail may name internals).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LastError {
    pub at: DateTime<Utc>,
    pub function: String,
    pub code: String,
    pub message: String,
    /// What the host saw (trap text, the guest's stderr), when it differs from the message.
    pub detail: Option<String>,
}

/// A copy of the counters.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub calls: u64,
    pub failures: u64,
    pub failures_by_code: BTreeMap<String, u64>,
    pub last_error: Option<LastError>,
    /// Recent calls' p50, p99 and max; none before the first call.
    pub latency: Option<LatencySummary>,
}

impl PluginStats {
    pub fn record_success(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failure under `counted_code` (a bounded set of codes: see
    /// [`counted_code`](crate::outcome::counted_code)); `error` keeps the code the plugin reported.
    pub fn record_failure(&self, counted_code: &str, error: LastError) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut failures = self.failures.lock();
        *failures.by_code.entry(counted_code.to_string()).or_default() += 1;
        failures.last = Some(error);
    }

    /// Counts a call's duration (every call, whatever its outcome) in the latency window.
    pub fn record_latency(&self, elapsed: Duration) {
        self.latency.lock().record(elapsed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let failures = self.failures.lock();
        StatsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            failures: failures.by_code.values().sum(),
            failures_by_code: failures.by_code.clone(),
            last_error: failures.last.clone(),
            latency: self.latency.lock().summary(),
        }
    }
}

/// Emits the call metrics. Labels are shared strings, so a call allocates nothing for them.
pub fn record_metrics(
    plugin: &Arc<str>,
    function: &Arc<str>,
    outcome: &str,
    via: crate::Via,
    elapsed: Duration,
    fuel: Option<u64>,
) {
    let outcome: metrics::SharedString = if outcome == "ok" { "ok".into() } else { outcome.to_string().into() };
    metrics::counter!("tool_calls_total", "plugin" => plugin.clone(), "function" => function.clone(), "outcome" => outcome, "via" => via.as_str())
        .increment(1);
    metrics::histogram!("tool_call_duration_seconds", "plugin" => plugin.clone(), "function" => function.clone())
        .record(elapsed.as_secs_f64());
    if let Some(fuel) = fuel {
        metrics::histogram!("tool_call_fuel_consumed", "plugin" => plugin.clone(), "function" => function.clone())
            .record(fuel as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_by_code() {
        let stats = PluginStats::default();
        stats.record_success();
        let error = |code: &str| LastError {
            at: Utc::now(),
            function: "f".into(),
            code: code.into(),
            message: "m".into(),
            detail: None,
        };
        stats.record_failure("timeout", error("timeout"));
        stats.record_failure("timeout", error("timeout"));
        stats.record_failure("busy", error("busy"));
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.calls, 4);
        assert_eq!(snapshot.failures, 3);
        assert_eq!(snapshot.failures_by_code["timeout"], 2);
        assert_eq!(snapshot.last_error.unwrap().code, "busy");
    }
}
