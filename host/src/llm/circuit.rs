//! The circuit breaker in front of Anthropic: after `threshold` Claude calls in a row failed for
//! Anthropic's reasons (overload, rate limits, 5xx, timeouts, broken connections), the circuit
//! opens and turns go straight to the fallback for `cool_down`, instead of each waiting through
//! its retries first. Then one trial call is let through (half-open): its success closes the
//! circuit, its failure opens it again. A trial that never reports (its turn was shut down) is
//! replaced by another after one more cool-down.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go to Anthropic.
    Closed,
    /// Calls skip Anthropic until the cool-down has passed.
    Open,
    /// The cool-down passed: the next call to ask is Anthropic's trial.
    HalfOpen,
}

#[derive(Debug)]
enum Inner {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A trial call is out since `since`.
    Trial {
        since: Instant,
    },
}

#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// `threshold` consecutive failures open it (0 never does); it stays open for `cool_down`.
    pub fn new(threshold: u32, cool_down: Duration) -> CircuitBreaker {
        CircuitBreaker { threshold, cool_down, inner: Mutex::new(Inner::Closed { failures: 0 }) }
    }

    /// Whether this call may go to Anthropic. In the half-open state only the first caller may
    /// (the trial); the others are told no until it reports.
    pub fn allow(&self) -> bool {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        let due = match *inner {
            Inner::Closed { .. } => return true,
            Inner::Open { until } => until,
            Inner::Trial { since } => since + self.cool_down,
        };
        if now < due {
            return false;
        }
        *inner = Inner::Trial { since: now };
        tracing::info!("circuit half-open: one Claude call goes to Anthropic as a trial");
        true
    }

    /// A Claude call succeeded (or failed for a reason of ours): the circuit closes.
    pub fn succeeded(&self) {
        let mut inner = self.inner.lock();
        if !matches!(*inner, Inner::Closed { .. }) {
            tracing::info!("circuit closed: Anthropic answered");
            metrics::gauge!("chat_llm_circuit_open").set(0.0);
        }
        *inner = Inner::Closed { failures: 0 };
    }

    /// A Claude call failed for Anthropic's reasons.
    pub fn failed(&self) {
        let mut inner = self.inner.lock();
        let failures = match *inner {
            Inner::Closed { failures } => failures + 1,
            // A failed trial, or a call that started before the circuit opened.
            Inner::Trial { .. } | Inner::Open { .. } => self.threshold,
        };
        if self.threshold == 0 || failures < self.threshold {
            *inner = Inner::Closed { failures };
            return;
        }
        if !matches!(*inner, Inner::Open { .. }) {
            tracing::warn!(
                failures,
                cool_down_ms = self.cool_down.as_millis() as u64,
                "circuit open: Claude calls go to the fallback"
            );
            metrics::counter!("chat_llm_circuit_opened_total").increment(1);
            metrics::gauge!("chat_llm_circuit_open").set(1.0);
        }
        *inner = Inner::Open { until: Instant::now() + self.cool_down };
    }

    /// Where the breaker stands now (an open circuit whose cool-down passed reads half-open).
    pub fn state(&self) -> CircuitState {
        let now = Instant::now();
        match *self.inner.lock() {
            Inner::Closed { .. } => CircuitState::Closed,
            Inner::Open { until } if now < until => CircuitState::Open,
            Inner::Open { .. } => CircuitState::HalfOpen,
            Inner::Trial { since } if now < since + self.cool_down => CircuitState::Open,
            Inner::Trial { .. } => CircuitState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_opens_after_the_threshold_of_consecutive_failures_only() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(3600));
        breaker.failed();
        breaker.failed();
        breaker.succeeded();
        breaker.failed();
        breaker.failed();
        assert_eq!(breaker.state(), CircuitState::Closed);
        assert!(breaker.allow());
        breaker.failed();
        assert_eq!(breaker.state(), CircuitState::Open);
        assert!(!breaker.allow());
    }

    #[test]
    fn after_the_cool_down_one_trial_goes_and_its_outcome_decides() {
        let breaker = CircuitBreaker::new(1, Duration::ZERO);
        breaker.failed();
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert!(breaker.allow(), "the trial");
        breaker.failed();
        assert!(breaker.allow(), "another trial once the (zero) cool-down passed");
        breaker.succeeded();
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn only_one_trial_goes_while_it_is_out() {
        let breaker = CircuitBreaker::new(1, Duration::from_secs(3600));
        *breaker.inner.lock() = Inner::Open { until: Instant::now() };
        assert!(breaker.allow());
        assert!(!breaker.allow());
        assert_eq!(breaker.state(), CircuitState::Open);
    }

    #[test]
    fn a_zero_threshold_never_opens() {
        let breaker = CircuitBreaker::new(0, Duration::from_secs(1));
        (0..10).for_each(|_| breaker.failed());
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
}
