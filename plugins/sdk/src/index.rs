//! Semantic search over the calling user's indexed workouts (embeddings computed by the host's
//! embedding pipeline). A plugin computes the query embedding itself (OpenAI, through an egress
//! rule that adds the API key) and hands it here.

use crate::ToolError;
use crate::host;

pub use host::WorkoutMatch;

/// The `limit` (at most 50) workouts most similar to `embedding` with a similarity of at least
/// `min_similarity`, best first.
pub fn search(embedding: &[f32], limit: u32, min_similarity: f32) -> Result<Vec<WorkoutMatch>, ToolError> {
    host::search_workouts(embedding, limit, min_similarity).map_err(ToolError::execution)
}

/// How many workouts the calling user has in the index (0 means: fall back to keyword search).
pub fn count() -> u32 {
    host::indexed_workout_count()
}
