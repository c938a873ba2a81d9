//! Quotas and rate limits count in windows of the wall clock (a UTC hour for the tools' rate
//! limits, a UTC month for the chat quota), and the service offers no clock a test could set. A
//! test that counts within one window would fail if the window turned while it ran (at 10:59:59.9,
//! say), on any machine. So such a test runs through [`within_one_window`]: when the window turned
//! during a run, whatever that run concluded says nothing, and the scenario runs once more, wholly
//! inside the new window.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Datelike, Timelike, Utc};
use futures::FutureExt;

/// A window of the wall clock that counts restart in.
#[derive(Clone, Copy, Debug)]
pub enum Window {
    /// A UTC hour (the tools' hourly rate limits).
    Hour,
    /// A UTC month (the monthly message quota).
    Month,
}

impl Window {
    /// Which window `at` falls in (the same value for every instant of one window).
    fn of(self, at: DateTime<Utc>) -> (i32, u32, u32, u32) {
        match self {
            Window::Hour => (at.year(), at.month(), at.day(), at.hour()),
            Window::Month => (at.year(), at.month(), 0, 0),
        }
    }
}

/// Runs `scenario` and returns when one run started and ended in the same `window`; a run the
/// window turned in is run again, once, whatever it concluded (a failed assertion included). The
/// second run's outcome stands.
pub async fn within_one_window<F, Fut>(window: Window, scenario: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    for attempt in 1..=2 {
        let started = window.of(Utc::now());
        let outcome = AssertUnwindSafe(scenario()).catch_unwind().await;
        if window.of(Utc::now()) == started || attempt == 2 {
            if let Err(failure) = outcome {
                std::panic::resume_unwind(failure);
            }
            return;
        }
        eprintln!("the {window:?} turned during the run: running the scenario again, within the new one");
    }
}
