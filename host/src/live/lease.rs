//! A running turn's hold on the shared state: its stop registration, its slot under the user's
//! cap and, with Redis, its lease — an entry in the set of running turns scored with a deadline
//! that a task of the turn moves forward every third of the lease. An instance that dies stops
//! renewing; another one finds the expired lease and closes the turn (`chat::turn_recovery`).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Live;
use super::stops::StopRegistration;
use super::unix_ms;
use super::user_cap::CapSlot;

/// A turn that runs; dropping it ends its lease and gives its slot back.
pub struct LiveTurn {
    stop: StopRegistration,
    renewal: Option<JoinHandle<()>>,
    live: Live,
    turn: String,
    _slot: Arc<CapSlot>,
}

impl LiveTurn {
    pub(super) async fn begin(live: &Live, turn: &str, slot: CapSlot) -> LiveTurn {
        let stop = live.stops.register(turn);
        let slot = Arc::new(slot);
        let renewal = live.redis.is_some().then(|| {
            let (live, turn, token, slot) = (live.clone(), turn.to_string(), stop.token().clone(), slot.clone());
            tokio::spawn(async move { renew(live, turn, slot, token).await })
        });
        if renewal.is_some() {
            // The lease is taken before the turn sends anything.
            live.renew_lease(turn).await;
        }
        LiveTurn { stop, renewal, live: live.clone(), turn: turn.to_string(), _slot: slot }
    }

    /// Cancelled when the user asked to stop the turn.
    pub fn stopped(&self) -> &CancellationToken {
        self.stop.token()
    }

    pub fn turn(&self) -> &str {
        &self.turn
    }
}

/// Renews the lease (and the log's and the slot's expiry) and looks for a missed stop request.
async fn renew(live: Live, turn: String, slot: Arc<CapSlot>, token: CancellationToken) {
    let every = live.lease / 3;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        live.renew_lease(&turn).await;
        slot.renew(unix_ms() + live.lease.as_millis() as i64, live.lease).await;
        if live.stops.requested(&turn).await {
            token.cancel();
        }
    }
}

impl Drop for LiveTurn {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
            let (live, turn) = (self.live.clone(), std::mem::take(&mut self.turn));
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { live.end_lease(&turn).await });
            }
        }
    }
}

/// How long a lease lasts at least, whatever the setting (renewals every third of it).
pub const MIN_LEASE: Duration = Duration::from_millis(300);
