//! The seam between the SDK and the host: every host capability the SDK wraps (`config`, `state`,
//! `flags`, `rate_limit`, `index`, `log`) is called through here. In a component (wasm32) these are
//! the imports of `wit/tool.wit`; on any other target they are answered by the scripted host of
//! [`testing`](crate::testing), so plugin code can be unit-tested natively with `cargo test`.
//! Outgoing HTTP has the same seam in `http` (`exchange`).

pub use crate::bindings::amakaflow::tool::host::{LogLevel, RateLimitDecision, WorkoutMatch};

#[cfg(target_arch = "wasm32")]
pub(crate) use crate::bindings::amakaflow::tool::host::{
    config, feature_flag, indexed_workout_count, log, rate_limit_hour, search_workouts, state_delete, state_get,
    state_put, state_take,
};

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::testing::host_calls::{
    config, feature_flag, indexed_workout_count, log, rate_limit_hour, search_workouts, state_delete, state_get,
    state_put, state_take,
};
