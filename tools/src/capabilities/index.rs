//! `search-workouts` / `indexed-workout-count`: read-only semantic search over the calling user's
//! indexed workouts. The index itself is a [`WorkoutIndex`] the host is given: the service's
//! embeddings index. Without one (the author CLI, tests) [`NoWorkoutIndex`] answers, honestly, that
//! the user has no indexed workouts (plugins then fall back to keyword search).

use futures::future::BoxFuture;

use super::{HostCtx, service_failed};
use crate::bindings::host::WorkoutMatch as WitWorkoutMatch;

/// The dimension of the index's embeddings (OpenAI `text-embedding-3-small`).
pub const EMBEDDING_DIMENSION: usize = 1536;
/// The most results one search returns.
pub const MAX_RESULTS: u32 = 50;

/// One workout found by a search.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkoutMatch {
    pub workout_id: String,
    pub title: String,
    pub description: Option<String>,
    /// Cosine similarity in [-1, 1].
    pub similarity: f32,
}

/// The workout index, scoped by the caller to one user.
pub trait WorkoutIndex: Send + Sync + 'static {
    /// The `limit` workouts of `user_id` most similar to `embedding` with at least `min_similarity`,
    /// best first. `embedding` has [`EMBEDDING_DIMENSION`] values and `limit` ≤ [`MAX_RESULTS`].
    fn search<'a>(
        &'a self,
        user_id: &'a str,
        embedding: &'a [f32],
        limit: u32,
        min_similarity: f32,
    ) -> BoxFuture<'a, anyhow::Result<Vec<WorkoutMatch>>>;

    /// How many workouts `user_id` has in the index.
    fn count<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, anyhow::Result<u32>>;
}

/// No index: nobody has indexed workouts (the author CLI, tests that need no search).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoWorkoutIndex;

impl WorkoutIndex for NoWorkoutIndex {
    fn search<'a>(
        &'a self,
        _: &'a str,
        _: &'a [f32],
        _: u32,
        _: f32,
    ) -> BoxFuture<'a, anyhow::Result<Vec<WorkoutMatch>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn count<'a>(&'a self, _: &'a str) -> BoxFuture<'a, anyhow::Result<u32>> {
        Box::pin(async { Ok(0) })
    }
}

pub async fn search(
    ctx: &HostCtx,
    embedding: &[f32],
    limit: u32,
    min_similarity: f32,
) -> wasmtime::Result<Result<Vec<WitWorkoutMatch>, String>> {
    let user = ctx.user("search-workouts")?;
    if embedding.len() != EMBEDDING_DIMENSION {
        return Ok(Err(format!("the query embedding must have {EMBEDDING_DIMENSION} values, not {}", embedding.len())));
    }
    if embedding.iter().any(|v| !v.is_finite()) || !min_similarity.is_finite() {
        return Ok(Err("the query embedding and min-similarity must be finite numbers".to_string()));
    }
    let matches = ctx
        .services
        .index
        .search(user, embedding, limit.min(MAX_RESULTS), min_similarity)
        .await
        .map_err(|err| service_failed("search-workouts", format!("{err:#}")))?;
    Ok(Ok(matches
        .into_iter()
        .map(|m| WitWorkoutMatch {
            workout_id: m.workout_id,
            title: m.title,
            description: m.description,
            similarity: m.similarity,
        })
        .collect()))
}

pub async fn count(ctx: &HostCtx) -> wasmtime::Result<u32> {
    let user = ctx.user("indexed-workout-count")?;
    ctx.services.index.count(user).await.map_err(|err| service_failed("indexed-workout-count", format!("{err:#}")))
}
