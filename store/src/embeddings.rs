//! Workout embeddings for semantic search, and the shared workout tables they are computed from.
//!
//! Two concerns share this module because they share their SQL: the `workout_embeddings` table of this
//! service (one row per workout: owner, title, content hash, vector as little-endian f32 bytes), and
//! read-only access to the Supabase deployment's `workouts` / `follow_along_workouts` tables, whose
//! rows the pipeline embeds. Those tables exist only in that deployment; [`Store::source_table`] says
//! whether (and with which columns) this database has one. Their rows are read as JSON objects so the
//! text building of the host sees the same shapes whether a workout comes from a table or from a
//! request body.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{Backend, Result, Store, with_pool};

/// The shared table a workout belongs to (the `table` of the original embeddings endpoints).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceTable {
    Workouts,
    FollowAlongWorkouts,
}

impl SourceTable {
    pub const ALL: [SourceTable; 2] = [SourceTable::Workouts, SourceTable::FollowAlongWorkouts];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceTable::Workouts => "workouts",
            SourceTable::FollowAlongWorkouts => "follow_along_workouts",
        }
    }

    pub fn parse(name: &str) -> Option<SourceTable> {
        SourceTable::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// The columns of a workout the embedded text is built from (the original's select list, after `id`).
pub const CONTENT_COLUMNS: [&str; 8] = [
    "title",
    "description",
    "workout_type",
    "target_muscle_groups",
    "equipment",
    "duration_minutes",
    "difficulty_level",
    "workout_data",
];

/// Columns that hold JSON (arrays or objects) and are decoded as such on SQLite, where they are text.
const JSON_COLUMNS: [&str; 3] = ["target_muscle_groups", "equipment", "workout_data"];

/// The columns of the owner, by preference: `workouts.profile_id`, `follow_along_workouts.user_id`.
const OWNER_COLUMNS: [&str; 2] = ["profile_id", "user_id"];

/// A shared workout table found in this database, with the columns it actually has (the real tables
/// lack some of the columns the original selected; absent columns read as absent fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSchema {
    pub table: SourceTable,
    pub(crate) owner_column: &'static str,
    content_columns: Vec<&'static str>,
    /// The dimension of its pgvector `embedding` column when it has one together with
    /// `embedding_content_hash` (the original deployment): then vectors are kept there
    /// ([`crate::shared_vectors`]), where mapper-api's `match_workouts` reads them.
    pub vector_dims: Option<usize>,
    /// The type of its `id` column (`uuid` in `workouts`, `text` in `follow_along_workouts`), so
    /// writes by id can use the primary key.
    pub(crate) id_type: String,
}

/// One row of a shared workout table: its id, its owner, and its content columns as a JSON object.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceWorkout {
    pub id: String,
    pub user_id: String,
    pub fields: serde_json::Map<String, Value>,
}

/// A workout as the embeddings table records it: where it comes from, whose it is, what a search
/// shows of it.
#[derive(Clone, Copy, Debug)]
pub struct WorkoutRecord<'a> {
    pub table: SourceTable,
    pub workout_id: &'a str,
    pub user_id: &'a str,
    pub title: &'a str,
    pub description: Option<&'a str>,
}

/// What to store for one workout whose text was embedded.
#[derive(Clone, Copy, Debug)]
pub struct NewEmbedding<'a> {
    pub workout: WorkoutRecord<'a>,
    pub content_hash: &'a str,
    pub model: &'a str,
    pub vector: &'a [f32],
}

/// The stored state of one workout's embedding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingState {
    pub user_id: String,
    /// SHA-256 of the text that was embedded; `None` when the row holds no vector.
    pub content_hash: Option<String>,
}

/// One embedded workout of a user, as the search index loads it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEmbedding {
    pub workout_id: String,
    pub title: String,
    pub description: Option<String>,
    pub vector: Vec<f32>,
}

/// Changes whenever a user's embedded workouts change (a row added, replaced or removed); the search
/// index compares it to decide whether its in-memory copy is still current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexVersion {
    pub count: i64,
    pub last_update: Option<DateTime<Utc>>,
}

/// Counts of a table for the progress endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmbeddingCounts {
    pub total: i64,
    pub embedded: i64,
}

/// Little-endian f32 bytes, the stored form of a vector on both backends.
pub fn encode_vector(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The inverse of [`encode_vector`]; `None` when the byte count is not a multiple of four.
pub fn decode_vector(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

impl Store {
    /// Stores (or replaces) the vector of a workout.
    pub async fn save_workout_embedding(&self, e: &NewEmbedding<'_>) -> Result<()> {
        let (w, bytes, dims) = (&e.workout, encode_vector(e.vector), e.vector.len() as i32);
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO workout_embeddings \
                 (source_table, workout_id, user_id, title, description, content_hash, model, dims, embedding, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (source_table, workout_id) DO UPDATE SET user_id = excluded.user_id, \
                 title = excluded.title, description = excluded.description, content_hash = excluded.content_hash, \
                 model = excluded.model, dims = excluded.dims, embedding = excluded.embedding, updated_at = excluded.updated_at",
            )
            .bind(w.table.as_str())
            .bind(w.workout_id)
            .bind(w.user_id)
            .bind(w.title)
            .bind(w.description)
            .bind(e.content_hash)
            .bind(e.model)
            .bind(dims)
            .bind(bytes)
            .bind(crate::now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Records a workout without a vector (its text is empty, or embedding it failed), dropping any
    /// previous vector.
    pub async fn save_unembedded_workout(&self, w: &WorkoutRecord<'_>) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO workout_embeddings \
                 (source_table, workout_id, user_id, title, description, content_hash, model, dims, embedding, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, NULL, NULL, 0, NULL, $6) \
                 ON CONFLICT (source_table, workout_id) DO UPDATE SET user_id = excluded.user_id, \
                 title = excluded.title, description = excluded.description, content_hash = NULL, model = NULL, \
                 dims = 0, embedding = NULL, updated_at = excluded.updated_at",
            )
            .bind(w.table.as_str())
            .bind(w.workout_id)
            .bind(w.user_id)
            .bind(w.title)
            .bind(w.description)
            .bind(crate::now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The stored state of each of `workout_ids` that has a row.
    pub async fn embedding_states(
        &self,
        table: SourceTable,
        workout_ids: &[String],
    ) -> Result<HashMap<String, EmbeddingState>> {
        let mut states = HashMap::new();
        // Bounded statements: a batch of ids never builds an unbounded parameter list.
        for chunk in workout_ids.chunks(500) {
            let ids = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".to_string());
            let membership = match self.backend() {
                Backend::Postgres => "workout_id IN (SELECT jsonb_array_elements_text($2::jsonb))",
                Backend::Sqlite => "workout_id IN (SELECT value FROM json_each($2))",
            };
            let sql = format!(
                "SELECT workout_id, user_id, content_hash FROM workout_embeddings WHERE source_table = $1 AND {membership}"
            );
            let rows: Vec<(String, String, Option<String>)> = with_pool!(self, pool => {
                sqlx::query_as(&sql).bind(table.as_str()).bind(ids).fetch_all(pool).await?
            });
            for (id, user_id, content_hash) in rows {
                states.insert(id, EmbeddingState { user_id, content_hash });
            }
        }
        Ok(states)
    }

    /// Removes a workout's row; returns its owner when there was one.
    pub async fn delete_workout_embedding(&self, table: SourceTable, workout_id: &str) -> Result<Option<String>> {
        let owner = with_pool!(self, pool => {
            sqlx::query_scalar("DELETE FROM workout_embeddings WHERE source_table = $1 AND workout_id = $2 RETURNING user_id")
                .bind(table.as_str())
                .bind(workout_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(owner)
    }

    /// Every embedded workout of `user_id` in `table`, in a stable order. Rows whose bytes do not
    /// decode are left out (and logged): one bad row never breaks a user's search.
    pub async fn user_workout_embeddings(&self, user_id: &str, table: SourceTable) -> Result<Vec<StoredEmbedding>> {
        type Row = (String, String, Option<String>, i32, Vec<u8>);
        let rows: Vec<Row> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT workout_id, title, description, dims, embedding FROM workout_embeddings \
                 WHERE user_id = $1 AND source_table = $2 AND embedding IS NOT NULL ORDER BY workout_id",
            )
            .bind(user_id)
            .bind(table.as_str())
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(workout_id, title, description, dims, bytes)| match decode_vector(&bytes) {
                Some(vector) if vector.len() == dims as usize => {
                    Some(StoredEmbedding { workout_id, title, description, vector })
                }
                _ => {
                    tracing::warn!(workout_id, "stored embedding does not decode; left out of the index");
                    None
                }
            })
            .collect())
    }

    /// The version of a user's embedded workouts (see [`IndexVersion`]).
    pub async fn user_index_version(&self, user_id: &str, table: SourceTable) -> Result<IndexVersion> {
        let (count, last_update): (i64, Option<DateTime<Utc>>) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT COUNT(*), MAX(updated_at) FROM workout_embeddings \
                 WHERE user_id = $1 AND source_table = $2 AND embedding IS NOT NULL",
            )
            .bind(user_id)
            .bind(table.as_str())
            .fetch_one(pool)
            .await?
        });
        Ok(IndexVersion { count, last_update })
    }

    /// Counts of the workouts this service knows in `table` (used when the database has no shared
    /// table: the known workouts are the ones requests delivered).
    pub async fn known_embedding_counts(&self, table: SourceTable) -> Result<EmbeddingCounts> {
        let (total, embedded): (i64, i64) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT COUNT(*), COUNT(embedding) FROM workout_embeddings WHERE source_table = $1",
            )
            .bind(table.as_str())
            .fetch_one(pool)
            .await?
        });
        Ok(EmbeddingCounts { total, embedded })
    }

    /// The shared table `table` if this database has it, with an id and an owner column.
    pub async fn source_table(&self, table: SourceTable) -> Result<Option<SourceSchema>> {
        // Each column with its type and, for a pgvector column, its dimension (the type modifier).
        let typed: Vec<(String, String, i32)> = match self.backend() {
            Backend::Postgres => with_pool!(self, pool => {
                sqlx::query_as(
                    "SELECT a.attname::text, t.typname::text, a.atttypmod FROM pg_attribute a \
                     JOIN pg_type t ON t.oid = a.atttypid \
                     WHERE a.attrelid = to_regclass(quote_ident(current_schema()) || '.' || quote_ident($1)) \
                     AND a.attnum > 0 AND NOT a.attisdropped",
                )
                .bind(table.as_str())
                .fetch_all(pool)
                .await?
            }),
            Backend::Sqlite => with_pool!(self, pool => {
                sqlx::query_as("SELECT name, type, 0 FROM pragma_table_info($1)").bind(table.as_str()).fetch_all(pool).await?
            }),
        };
        let columns: Vec<String> = typed.iter().map(|(name, _, _)| name.clone()).collect();
        if columns.is_empty() {
            return Ok(None);
        }
        let has = |name: &str| columns.iter().any(|c| c == name);
        let Some(owner_column) = OWNER_COLUMNS.into_iter().find(|c| has(c)) else {
            tracing::warn!(table = table.as_str(), "shared table has no profile_id/user_id column; not used");
            return Ok(None);
        };
        if !has("id") {
            tracing::warn!(table = table.as_str(), "shared table has no id column; not used");
            return Ok(None);
        }
        let content_columns = CONTENT_COLUMNS.into_iter().filter(|c| has(c)).collect();
        let vector_dims = typed
            .iter()
            .find(|(name, kind, dims)| name == "embedding" && kind == "vector" && *dims > 0)
            .filter(|_| has("embedding_content_hash"))
            .map(|(_, _, dims)| *dims as usize);
        let id_type =
            typed.iter().find(|(name, _, _)| name == "id").map(|(_, kind, _)| kind.clone()).unwrap_or_default();
        Ok(Some(SourceSchema { table, owner_column, content_columns, vector_dims, id_type }))
    }

    /// One page of a shared table in id order, after `after` (exclusive). With `ids`, only those
    /// rows; with `only_unembedded`, only rows without a stored vector.
    pub async fn source_workouts(
        &self,
        schema: &SourceSchema,
        after: Option<&str>,
        ids: Option<&[String]>,
        only_unembedded: bool,
        limit: i64,
    ) -> Result<Vec<SourceWorkout>> {
        let dialect = Dialect::of(self);
        let id = dialect.text("w.id");
        // Parameters are numbered as conditions are added, and bound in the same order below.
        let mut conditions = vec![format!("{id} > $1")];
        let mut next = 2;
        if ids.is_some() {
            conditions.push(format!("{id} IN ({})", dialect.json_text_elements(&format!("${next}"))));
            next += 1;
        }
        // Rows without a vector: the shared table's own column when it has one, as the original.
        let unembedded_by_service_table = only_unembedded && schema.vector_dims.is_none();
        if only_unembedded && schema.vector_dims.is_some() {
            conditions.push("w.embedding IS NULL".to_string());
        }
        if unembedded_by_service_table {
            conditions.push(format!(
                "NOT EXISTS (SELECT 1 FROM workout_embeddings e WHERE e.source_table = ${next} \
                 AND e.workout_id = {id} AND e.embedding IS NOT NULL)"
            ));
            next += 1;
        }
        let sql = format!(
            "SELECT {row} FROM {table} w WHERE {conditions} ORDER BY {id} LIMIT ${next}",
            row = dialect.row_json(schema),
            table = schema.table.as_str(),
            conditions = conditions.join(" AND "),
        );
        let ids_json = ids.map(|ids| serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_string()));
        let rows: Vec<String> = with_pool!(self, pool => {
            let mut query = sqlx::query_scalar(&sql).bind(after.unwrap_or(""));
            if let Some(ids_json) = &ids_json {
                query = query.bind(ids_json.as_str());
            }
            if unembedded_by_service_table {
                query = query.bind(schema.table.as_str());
            }
            query.bind(limit).fetch_all(pool).await?
        });
        Ok(rows.iter().filter_map(|text| parse_source_row(text)).collect())
    }

    /// One row of a shared table.
    pub async fn source_workout(&self, schema: &SourceSchema, workout_id: &str) -> Result<Option<SourceWorkout>> {
        let dialect = Dialect::of(self);
        let sql = format!(
            "SELECT {row} FROM {table} w WHERE {id} = $1",
            row = dialect.row_json(schema),
            table = schema.table.as_str(),
            id = dialect.text("w.id"),
        );
        let row: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar(&sql).bind(workout_id).fetch_optional(pool).await?
        });
        Ok(row.as_deref().and_then(parse_source_row))
    }

    /// Counts of a shared table: its rows, and those with a stored vector.
    pub async fn source_embedding_counts(&self, schema: &SourceSchema) -> Result<EmbeddingCounts> {
        if schema.vector_dims.is_some() {
            return self.shared_embedding_counts(schema).await;
        }
        let id = Dialect::of(self).text("w.id");
        let sql = format!(
            "SELECT COUNT(*), COUNT(e.workout_id) FROM {table} w LEFT JOIN workout_embeddings e \
             ON e.source_table = $1 AND e.workout_id = {id} AND e.embedding IS NOT NULL",
            table = schema.table.as_str(),
        );
        let (total, embedded): (i64, i64) = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(schema.table.as_str()).fetch_one(pool).await?
        });
        Ok(EmbeddingCounts { total, embedded })
    }
}

/// The SQL that differs between the backends when reading the shared tables.
#[derive(Clone, Copy)]
enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    fn of(store: &Store) -> Dialect {
        match store.backend() {
            Backend::Postgres => Dialect::Postgres,
            Backend::Sqlite => Dialect::Sqlite,
        }
    }

    /// `expr` as text (ids are uuid in `workouts`, text in `follow_along_workouts`).
    fn text(self, expr: &str) -> String {
        match self {
            Dialect::Postgres => format!("{expr}::text"),
            Dialect::Sqlite => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// The elements of a JSON array of strings bound at `param`, as a subquery.
    fn json_text_elements(self, param: &str) -> String {
        match self {
            Dialect::Postgres => format!("SELECT jsonb_array_elements_text({param}::jsonb)"),
            Dialect::Sqlite => format!("SELECT value FROM json_each({param})"),
        }
    }

    /// One row as a JSON object text: `id`, `user_id` and the content columns the table has. Column
    /// names come from fixed lists, never from input.
    fn row_json(self, schema: &SourceSchema) -> String {
        let mut pairs = vec![
            format!("'id', {}", self.text("w.id")),
            format!("'user_id', {}", self.text(&format!("w.{}", schema.owner_column))),
        ];
        for column in &schema.content_columns {
            let value = match self {
                Dialect::Sqlite if JSON_COLUMNS.contains(column) => {
                    format!("CASE WHEN json_valid(w.{column}) THEN json(w.{column}) ELSE w.{column} END")
                }
                _ => format!("w.{column}"),
            };
            pairs.push(format!("'{column}', {value}"));
        }
        match self {
            Dialect::Postgres => format!("jsonb_build_object({})::text", pairs.join(", ")),
            Dialect::Sqlite => format!("json_object({})", pairs.join(", ")),
        }
    }
}

fn parse_source_row(text: &str) -> Option<SourceWorkout> {
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(text) else {
        tracing::warn!("shared workout row is not a JSON object; skipped");
        return None;
    };
    let id = fields.remove("id").and_then(|v| v.as_str().map(str::to_string))?;
    let user_id = fields.remove("user_id").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    Some(SourceWorkout { id, user_id, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_bytes() {
        let v = vec![0.0, -1.5, f32::MIN_POSITIVE, 3.25e-7, 1.0];
        assert_eq!(decode_vector(&encode_vector(&v)).unwrap(), v);
        assert_eq!(encode_vector(&[1.0]), 1.0f32.to_le_bytes().to_vec());
        assert!(decode_vector(&[0, 1, 2]).is_none());
    }

    #[test]
    fn table_names_are_the_original_literals() {
        assert_eq!(SourceTable::parse("workouts"), Some(SourceTable::Workouts));
        assert_eq!(SourceTable::parse("follow_along_workouts"), Some(SourceTable::FollowAlongWorkouts));
        assert_eq!(SourceTable::parse("profiles"), None);
    }
}
