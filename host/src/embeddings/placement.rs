//! Where the pipeline keeps a table's vectors: this service's `workout_embeddings` table (SQLite, a
//! Postgres without the shared tables or without pgvector), or the shared table's own pgvector
//! columns `embedding` / `embedding_content_hash`, where the original service wrote them and
//! mapper-api's `match_workouts` reads them. The choice follows the table found in the database
//! ([`store::embeddings::SourceSchema::vector_dims`]); the pipeline's logic (skip unchanged text,
//! drop the vector of an emptied text, report per workout) is the same for both.

use std::collections::HashMap;

use store::embeddings::{EmbeddingState, NewEmbedding, SourceSchema, SourceTable, WorkoutRecord};
use store::{Store, StoreError};

/// The home of one table's vectors.
pub enum Placement {
    /// `workout_embeddings` (rows keyed by table and workout id).
    ServiceTable(SourceTable),
    /// The pgvector columns of the shared table itself.
    SharedColumns(SourceSchema),
}

impl Placement {
    /// For a shared table found in the database (`None`: workouts come inline).
    pub fn of(table: SourceTable, schema: Option<SourceSchema>) -> Placement {
        match schema {
            Some(schema) if schema.vector_dims.is_some() => Placement::SharedColumns(schema),
            _ => Placement::ServiceTable(table),
        }
    }

    pub fn table(&self) -> SourceTable {
        match self {
            Placement::ServiceTable(table) => *table,
            Placement::SharedColumns(schema) => schema.table,
        }
    }

    /// The stored owner and text hash of each of `ids` that has a record.
    pub async fn states(&self, store: &Store, ids: &[String]) -> Result<HashMap<String, EmbeddingState>, StoreError> {
        match self {
            Placement::ServiceTable(table) => store.embedding_states(*table, ids).await,
            Placement::SharedColumns(schema) => store.shared_embedding_states(schema, ids).await,
        }
    }

    /// Stores the vector of `workout`'s text (hash `content_hash`).
    pub async fn save(
        &self,
        store: &Store,
        workout: WorkoutRecord<'_>,
        content_hash: &str,
        model: &str,
        vector: &[f32],
    ) -> Result<(), StoreError> {
        match self {
            Placement::ServiceTable(_) => {
                store.save_workout_embedding(&NewEmbedding { workout, content_hash, model, vector }).await
            }
            Placement::SharedColumns(schema) => {
                if let Some(dims) = schema.vector_dims.filter(|dims| *dims != vector.len()) {
                    return Err(StoreError::Unsupported(format!(
                        "the embedding has {} dimensions; {}.embedding is vector({dims})",
                        vector.len(),
                        schema.table.as_str()
                    )));
                }
                store.save_shared_embedding(schema, workout.workout_id, content_hash, vector).await.map(|_| ())
            }
        }
    }

    /// Records `workout` as having no vector (its text is empty, or embedding it failed).
    pub async fn forget(&self, store: &Store, workout: WorkoutRecord<'_>) -> Result<(), StoreError> {
        match self {
            Placement::ServiceTable(_) => store.save_unembedded_workout(&workout).await,
            Placement::SharedColumns(schema) => store.clear_shared_embedding(schema, workout.workout_id).await,
        }
    }

    /// Forgets a workout gone from its table; returns its owner when something was removed.
    pub async fn remove(&self, store: &Store, workout_id: &str) -> Result<Option<String>, StoreError> {
        match self {
            Placement::ServiceTable(table) => store.delete_workout_embedding(*table, workout_id).await,
            // The row, and its vector with it, is already gone.
            Placement::SharedColumns(_) => Ok(None),
        }
    }
}
