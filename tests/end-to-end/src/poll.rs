//! The one way suites wait for something they can only observe from outside: asking again and
//! again until it holds. Only for what offers no signal to await: an HTTP endpoint of a separate
//! process, a WebDriver page, a background loop (the plugin watcher, the database poller) that
//! exposes nothing but its effect. Whatever the code under test can signal (the tool set's
//! readiness, a stand-in's recorded requests, the end of a turn) is awaited instead.
//!
//! Deadlines here are generous (many times what a loaded machine needs): a deadline only decides
//! how long a failing test takes to say so, never whether a passing one passes.

use std::fmt::Display;
use std::time::Duration;

/// How long to wait between two looks.
const INTERVAL: Duration = Duration::from_millis(25);

/// Calls `look` until it returns `Ok`, and returns that. `Err` carries what it saw instead, for the
/// failure message. Panics when `within` passes first, naming `what` was awaited and the last
/// thing seen.
pub async fn poll_until<T>(
    within: Duration,
    what: impl Display,
    mut look: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = match look().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if tokio::time::Instant::now() >= deadline {
            panic!("{what} did not happen within {within:?}; last seen: {seen}");
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
