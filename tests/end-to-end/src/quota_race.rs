//! Many reservations of one user's monthly quota racing each other, as the 200-concurrent quota
//! tests start them (the foundation suite on a fresh schema, the cutover suite on the original one).

use chrono::{DateTime, Utc};
use host::config::QuotaConfig;
use host::quota::{self, Exceeded, Reservation};
use store::Store;

/// `n` reservations for `user` at `at`, all started before any is awaited; their outcomes.
pub async fn reserve_many(
    store: &Store,
    limits: &QuotaConfig,
    user: &str,
    n: usize,
    at: DateTime<Utc>,
) -> Vec<Result<Reservation, Exceeded>> {
    let flags = store.feature_flags(user).await.unwrap();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (store, flags, user, limits) = (store.clone(), flags.clone(), user.to_string(), *limits);
            tokio::spawn(async move { quota::reserve(&store, &limits, &flags, &user, at).await.unwrap() })
        })
        .collect();
    futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect()
}
