//! Vectors kept in the shared workout tables' own pgvector columns (`embedding`,
//! `embedding_content_hash`), as the original service kept them: the Supabase deployment's
//! `workouts` and `follow_along_workouts` have those columns (with HNSW cosine indexes), and
//! mapper-api's `match_workouts` RPC reads them for the web app's library search. When a table has
//! them ([`SourceSchema::vector_dims`]), the pipeline writes there instead of `workout_embeddings`, and
//! the search runs in Postgres with `match_workouts`' semantics (cosine similarity `1 - (a <=> b)`, a
//! threshold, one owner's rows, nearest first).
//!
//! Vectors travel as pgvector's text form (`[0.1,-2,…]`): f32's shortest round-trip formatting, so
//! what is stored is exactly the f32 vector the pipeline computed.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::embeddings::{EmbeddingCounts, EmbeddingState, SourceSchema};
use crate::{Pool, Result, Store, StoreError};

/// One workout a pgvector search found.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedMatch {
    pub workout_id: String,
    pub title: String,
    pub description: Option<String>,
    pub similarity: f32,
}

/// pgvector's text form of `vector`.
pub fn vector_literal(vector: &[f32]) -> String {
    let mut text = String::with_capacity(vector.len() * 12 + 2);
    text.push('[');
    for (i, x) in vector.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&x.to_string());
    }
    text.push(']');
    text
}

impl SourceSchema {
    /// `id = <param>` in the id column's own type, so the primary key serves it (the type name
    /// comes from the catalog; anything unexpected falls back to comparing text).
    fn id_is(&self, param: &str) -> String {
        match self.id_type.as_str() {
            kind @ ("uuid" | "text" | "int4" | "int8") => format!("id = {param}::{kind}"),
            _ => format!("id::text = {param}"),
        }
    }

    /// `id` among the text array `param`, in the id column's own type.
    fn id_in(&self, param: &str) -> String {
        match self.id_type.as_str() {
            kind @ ("uuid" | "text" | "int4" | "int8") => format!("id = ANY({param}::{kind}[])"),
            _ => format!("id::text = ANY({param})"),
        }
    }
}

impl Store {
    /// The Postgres pool, for a table that has pgvector columns (only Postgres tables can).
    fn vector_pool(&self, schema: &SourceSchema) -> Result<&PgPool> {
        match (&self.pool, schema.vector_dims) {
            (Pool::Postgres(pool), Some(_)) => Ok(pool),
            _ => Err(StoreError::Unsupported(format!("{} has no pgvector columns", schema.table.as_str()))),
        }
    }

    /// Stores a workout's vector and the hash of the text it was computed from in its own row.
    /// `Ok(false)` when the row is gone.
    pub async fn save_shared_embedding(
        &self,
        schema: &SourceSchema,
        workout_id: &str,
        content_hash: &str,
        vector: &[f32],
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE {} SET embedding = $1::vector, embedding_content_hash = $2 WHERE {}",
            schema.table.as_str(),
            schema.id_is("$3")
        );
        let done = sqlx::query(&sql)
            .bind(vector_literal(vector))
            .bind(content_hash)
            .bind(workout_id)
            .execute(self.vector_pool(schema)?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Drops a workout's vector (its text is now empty, so a stale vector must not be found).
    pub async fn clear_shared_embedding(&self, schema: &SourceSchema, workout_id: &str) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET embedding = NULL, embedding_content_hash = NULL \
             WHERE {} AND (embedding IS NOT NULL OR embedding_content_hash IS NOT NULL)",
            schema.table.as_str(),
            schema.id_is("$1")
        );
        sqlx::query(&sql).bind(workout_id).execute(self.vector_pool(schema)?).await?;
        Ok(())
    }

    /// The owner and embedded-text hash of each of `workout_ids` (no hash: no vector yet).
    pub async fn shared_embedding_states(
        &self,
        schema: &SourceSchema,
        workout_ids: &[String],
    ) -> Result<HashMap<String, EmbeddingState>> {
        let sql = format!(
            "SELECT id::text, {owner}::text, CASE WHEN embedding IS NULL THEN NULL ELSE embedding_content_hash END \
             FROM {table} WHERE {ids}",
            owner = schema.owner_column,
            table = schema.table.as_str(),
            ids = schema.id_in("$1"),
        );
        let mut states = HashMap::new();
        for chunk in workout_ids.chunks(500) {
            let rows: Vec<(String, String, Option<String>)> =
                sqlx::query_as(&sql).bind(chunk).fetch_all(self.vector_pool(schema)?).await?;
            for (id, user_id, content_hash) in rows {
                states.insert(id, EmbeddingState { user_id, content_hash });
            }
        }
        Ok(states)
    }

    /// Rows of the table, and those with a vector.
    pub(crate) async fn shared_embedding_counts(&self, schema: &SourceSchema) -> Result<EmbeddingCounts> {
        let sql = format!("SELECT COUNT(*), COUNT(embedding) FROM {}", schema.table.as_str());
        let (total, embedded): (i64, i64) = sqlx::query_as(&sql).fetch_one(self.vector_pool(schema)?).await?;
        Ok(EmbeddingCounts { total, embedded })
    }

    /// The embedded workouts of `user_id`.
    pub async fn shared_embedding_count(&self, schema: &SourceSchema, user_id: &str) -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {}::text = $1 AND embedding IS NOT NULL",
            schema.table.as_str(),
            schema.owner_column
        );
        Ok(sqlx::query_scalar(&sql).bind(user_id).fetch_one(self.vector_pool(schema)?).await?)
    }

    /// The `limit` workouts of `user_id` nearest to `query` by cosine distance whose similarity is at
    /// least `min_similarity`, best first: `match_workouts` scoped to one owner, in the form its HNSW
    /// index serves (`ORDER BY embedding <=> query LIMIT n`).
    pub async fn search_shared_embeddings(
        &self,
        schema: &SourceSchema,
        user_id: &str,
        query: &[f32],
        limit: i64,
        min_similarity: f32,
    ) -> Result<Vec<SharedMatch>> {
        let sql = format!(
            "SELECT id::text, COALESCE(title, ''), description, (1 - (embedding <=> $1::vector))::float4 \
             FROM {table} WHERE {owner}::text = $2 AND embedding IS NOT NULL \
             AND 1 - (embedding <=> $1::vector) >= $3 \
             ORDER BY embedding <=> $1::vector LIMIT $4",
            table = schema.table.as_str(),
            owner = schema.owner_column,
        );
        let rows: Vec<(String, String, Option<String>, f32)> = sqlx::query_as(&sql)
            .bind(vector_literal(query))
            .bind(user_id)
            .bind(f64::from(min_similarity))
            .bind(limit)
            .fetch_all(self.vector_pool(schema)?)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(workout_id, title, description, similarity)| SharedMatch {
                workout_id,
                title,
                description,
                similarity,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_written_in_pgvectors_text_form_exactly() {
        assert_eq!(vector_literal(&[1.0, -0.5, 3.25e-7]), "[1,-0.5,0.000000325]");
        let v = [0.1f32, 1.0 / 3.0, -2.5e-12];
        let parsed: Vec<f32> =
            vector_literal(&v).trim_matches(['[', ']']).split(',').map(|x| x.parse().unwrap()).collect();
        assert_eq!(parsed, v, "the text form round-trips every f32");
    }
}
