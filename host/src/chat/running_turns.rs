//! The cap on chat turns one user may have running at once (`CONCURRENT_TURNS_PER_USER`). A turn
//! takes a [`TurnSlot`] before anything else (before any quota unit or row is spent) and holds it
//! until it ends, however it ends: the slot is given back when it is dropped. One user can then tie
//! up only a few Claude streams and tool calls, whatever their client does.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

/// The running turns of every user (only users with a running turn have an entry).
#[derive(Clone, Debug)]
pub struct RunningTurns {
    per_user: usize,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

impl RunningTurns {
    pub fn new(per_user: usize) -> RunningTurns {
        RunningTurns { per_user, running: Arc::default() }
    }

    /// The most turns one user may have running.
    pub fn per_user(&self) -> usize {
        self.per_user
    }

    /// A slot for one more turn of `user_id`, or `None` when the user is at the cap.
    pub fn start(&self, user_id: &str) -> Option<TurnSlot> {
        let mut running = self.running.lock();
        let count = running.entry(user_id.to_string()).or_insert(0);
        if *count >= self.per_user {
            return None;
        }
        *count += 1;
        Some(TurnSlot { turns: self.clone(), user_id: user_id.to_string() })
    }
}

/// One running turn of one user.
#[derive(Debug)]
pub struct TurnSlot {
    turns: RunningTurns,
    user_id: String,
}

impl Drop for TurnSlot {
    fn drop(&mut self) {
        let mut running = self.turns.running.lock();
        if let Some(count) = running.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                running.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_at_the_cap_waits_for_one_of_their_turns_to_end() {
        let turns = RunningTurns::new(3);
        let mut alice: Vec<TurnSlot> = (0..3).map(|_| turns.start("alice").expect("under the cap")).collect();
        assert!(turns.start("alice").is_none(), "a fourth turn");
        assert!(turns.start("bob").is_some(), "other users are not affected");
        alice.pop();
        assert!(turns.start("alice").is_some(), "a slot came back");
    }

    #[test]
    fn users_without_running_turns_take_no_memory() {
        let turns = RunningTurns::new(1);
        for i in 0..1000 {
            drop(turns.start(&format!("user_{i}")));
        }
        assert!(turns.running.lock().is_empty());
    }
}
