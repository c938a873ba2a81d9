//! The host services plugins reach through the `host` interface: the database (state, rate limits,
//! feature flags) and the workout index. Shared by every call; cheap to clone.

use std::sync::Arc;

use store::Store;

use crate::capabilities::index::{NoWorkoutIndex, WorkoutIndex};

/// What the host capabilities are backed by.
#[derive(Clone)]
pub struct HostServices {
    /// `None` (the author's `plugins check`) makes state, rate limits and flags fail as `host_error`.
    pub store: Option<Store>,
    pub index: Arc<dyn WorkoutIndex>,
}

impl HostServices {
    /// The database, and no workout index (every search finds nothing): the service adds its
    /// embeddings index with [`HostServices::with_index`].
    pub fn new(store: Store) -> HostServices {
        HostServices { store: Some(store), index: Arc::new(NoWorkoutIndex) }
    }

    /// No database: enough to load and describe plugins.
    pub fn without_store() -> HostServices {
        HostServices { store: None, index: Arc::new(NoWorkoutIndex) }
    }

    /// Searches go to `index` (the service's embeddings index of the users' workouts).
    pub fn with_index(mut self, index: Arc<dyn WorkoutIndex>) -> HostServices {
        self.index = index;
        self
    }
}

impl std::fmt::Debug for HostServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostServices").field("store", &self.store.as_ref().map(|s| s.backend())).finish_non_exhaustive()
    }
}
