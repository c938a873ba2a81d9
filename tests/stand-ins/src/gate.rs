//! A gate a stand-in holds an answer behind until the test opens it. Tests use it instead of a
//! delay whenever an answer must arrive "later": a delay races the client's own limits on a slow
//! or fast machine, a gate does not. A gate that is never opened is a service that never answers;
//! one opened after the test saw what it waited for (a request arrived, a client went away) makes
//! "the answer comes after that" certain on any machine.
//!
//! ```no_run
//! # async fn demo() {
//! use stand_ins::gate::Gate;
//! let gate = Gate::new();
//! let held = gate.clone();
//! let answer = tokio::spawn(async move { held.passed().await; "now" });
//! gate.open();
//! assert_eq!(answer.await.unwrap(), "now");
//! # }
//! ```

use std::sync::Arc;

use tokio::sync::watch;

/// Closed until [`Gate::open`]; clones share the one gate.
#[derive(Clone, Debug)]
pub struct Gate {
    open: Arc<watch::Sender<bool>>,
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate { open: Arc::new(watch::Sender::new(false)) }
    }

    /// Lets everything held at the gate through, now and from now on.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    pub fn is_open(&self) -> bool {
        *self.open.borrow()
    }

    /// Resolves once the gate is open (at once if it already is).
    pub async fn passed(&self) {
        let mut open = self.open.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = open.wait_for(|open| *open).await;
    }
}

impl Default for Gate {
    fn default() -> Gate {
        Gate::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn whatever_waits_at_a_gate_passes_once_it_opens_and_not_before() {
        let gate = Gate::new();
        let held = gate.clone();
        let waiting = tokio::spawn(async move { held.passed().await });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        gate.open();
        waiting.await.unwrap();
        assert!(gate.is_open());
        gate.passed().await;
    }
}
