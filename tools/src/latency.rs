//! The latency of a plugin's recent calls for the admin listing and the operator console: the last
//! [`WINDOW`] call durations, summarised as p50, p99 and max. A window, not a histogram since start,
//! so a plugin that got slow shows it now (Prometheus keeps the long history:
//! `tool_call_duration_seconds`).

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

/// How many recent calls the summary covers.
pub const WINDOW: usize = 1024;

/// The durations of the most recent calls, in microseconds.
#[derive(Debug, Default)]
pub struct LatencyWindow {
    recent: VecDeque<u64>,
}

/// Percentiles of the recent calls, in microseconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct LatencySummary {
    /// How many calls the figures cover (at most [`WINDOW`]).
    pub calls: usize,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl LatencyWindow {
    pub fn record(&mut self, elapsed: Duration) {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// `None` before the first call.
    pub fn summary(&self) -> Option<LatencySummary> {
        let mut sorted: Vec<u64> = self.recent.iter().copied().collect();
        sorted.sort_unstable();
        let rank = |q: f64| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1];
        let max = *sorted.last()?;
        Some(LatencySummary { calls: sorted.len(), p50_us: rank(0.50), p99_us: rank(0.99), max_us: max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_cover_the_recent_calls_only() {
        let mut window = LatencyWindow::default();
        assert_eq!(window.summary(), None);
        for ms in 1..=100 {
            window.record(Duration::from_millis(ms));
        }
        assert_eq!(
            window.summary(),
            Some(LatencySummary { calls: 100, p50_us: 50_000, p99_us: 99_000, max_us: 100_000 })
        );
        for _ in 0..WINDOW {
            window.record(Duration::from_micros(7));
        }
        assert_eq!(window.summary(), Some(LatencySummary { calls: WINDOW, p50_us: 7, p99_us: 7, max_us: 7 }));
    }
}
