//! The three use cases of `/internal/embeddings/*`: embed a table's workouts in batches (`generate`),
//! embed one workout on create/update (`webhook`), and report how far a table is (`progress`).
//!
//! Workouts come from the shared `workouts` / `follow_along_workouts` tables when this database has
//! them (the Supabase deployment), or from the request itself (`workouts: [...]`) otherwise. Either
//! way a workout is a JSON object with an `id`, an owner (`profile_id` or `user_id`) and the fields
//! of [`text::build_content`]. A workout whose text has not changed since it was embedded (same
//! SHA-256) is skipped; every write invalidates its owner's cached search index. Vectors go where
//! [`Placement`] says: the shared table's own pgvector columns when it has them, else this service's
//! `workout_embeddings`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};
use store::embeddings::{EmbeddingCounts, EmbeddingState, SourceSchema, SourceTable, SourceWorkout, WorkoutRecord};
use store::{Store, StoreError};

use super::index::{SEARCHED_TABLE, WorkoutIndex};
use super::openai::{EmbeddingError, EmbeddingsClient};
use super::placement::Placement;
use super::text;

/// Why a use case could not run at all (per-workout failures are part of the report instead).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("OpenAI API key not configured")]
    NotConfigured,
    #[error("invalid workout: {0}")]
    InvalidWorkout(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One workout that could not be embedded, as the original reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkoutFailure {
    pub workout_id: String,
    pub error: String,
}

/// The answer of `generate` (the original `GenerateResponse`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GenerateReport {
    pub total_processed: u64,
    pub total_embedded: u64,
    pub total_skipped: u64,
    pub errors: Vec<WorkoutFailure>,
    pub duration_seconds: f64,
}

/// What `webhook` did with one workout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    Embedded,
    /// Its text has the hash of the stored embedding.
    Unchanged,
    /// Its text is empty.
    Skipped,
    NotFound,
    /// Embedding or saving failed (the original answers 502 with this text).
    Failed(String),
}

impl WebhookOutcome {
    pub fn status(&self) -> &'static str {
        match self {
            WebhookOutcome::Embedded => "embedded",
            WebhookOutcome::Unchanged => "unchanged",
            WebhookOutcome::Skipped => "skipped",
            WebhookOutcome::NotFound => "not_found",
            WebhookOutcome::Failed(_) => "error",
        }
    }
}

/// Where `generate` takes its workouts from.
pub enum Workouts {
    /// The shared table of the database (all rows without an embedding, or the given ids).
    Table { ids: Option<Vec<String>> },
    /// Workouts delivered in the request body (optionally narrowed to the given ids).
    Inline { workouts: Vec<Map<String, Value>>, ids: Option<Vec<String>> },
}

/// The embeddings pipeline; share it as an `Arc`.
pub struct EmbeddingPipeline {
    store: Store,
    client: EmbeddingsClient,
    index: Arc<WorkoutIndex>,
}

/// A workout ready to embed.
struct Candidate {
    id: String,
    user_id: String,
    title: String,
    description: Option<String>,
    text: String,
}

impl EmbeddingPipeline {
    pub fn new(store: Store, client: EmbeddingsClient, index: Arc<WorkoutIndex>) -> Arc<EmbeddingPipeline> {
        Arc::new(EmbeddingPipeline { store, client, index })
    }

    pub fn index(&self) -> &Arc<WorkoutIndex> {
        &self.index
    }

    /// Embeds every workout of `source` that needs it, `EMBEDDING_BATCH_SIZE` at a time.
    pub async fn generate(&self, table: SourceTable, source: Workouts) -> Result<GenerateReport, PipelineError> {
        if !self.client.is_configured() {
            return Err(PipelineError::NotConfigured);
        }
        let started = Instant::now();
        let mut report = GenerateReport::default();
        let batch_size = self.client.batch_size();
        let inline = Placement::ServiceTable(table);
        match source {
            Workouts::Inline { workouts, ids } => {
                let wanted: Option<HashSet<String>> = ids.map(|ids| ids.into_iter().collect());
                let mut batch = Vec::new();
                for workout in workouts {
                    match inline_workout(workout) {
                        Ok(w) if wanted.as_ref().is_none_or(|ids| ids.contains(&w.id)) => batch.push(w),
                        Ok(_) => {}
                        Err(failure) => {
                            report.total_processed += 1;
                            report.errors.push(failure);
                        }
                    }
                    if batch.len() == batch_size {
                        self.process_batch(&inline, std::mem::take(&mut batch), &mut report).await?;
                    }
                }
                self.process_batch(&inline, batch, &mut report).await?;
            }
            Workouts::Table { ids } => {
                if let Some(schema) = self.store.source_table(table).await? {
                    self.generate_from_table(&schema, ids, batch_size, &mut report).await?;
                }
            }
        }
        report.duration_seconds = (started.elapsed().as_secs_f64() * 100.0).round() / 100.0;
        Ok(report)
    }

    /// Pages through the shared table in id order (so rows that cannot be embedded never stall it).
    async fn generate_from_table(
        &self,
        schema: &SourceSchema,
        ids: Option<Vec<String>>,
        batch_size: usize,
        report: &mut GenerateReport,
    ) -> Result<(), PipelineError> {
        let placement = Placement::of(schema.table, Some(schema.clone()));
        let mut after: Option<String> = None;
        loop {
            // With explicit ids every named row is considered (unchanged ones are skipped by hash);
            // without, only rows that have no embedding yet, as the original.
            let page = self
                .store
                .source_workouts(schema, after.as_deref(), ids.as_deref(), ids.is_none(), batch_size as i64)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            let full = page.len() == batch_size;
            self.process_batch(&placement, page, report).await?;
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// Embeds one batch: skips empty and unchanged texts, embeds the rest in one request, saves.
    async fn process_batch(
        &self,
        placement: &Placement,
        workouts: Vec<SourceWorkout>,
        report: &mut GenerateReport,
    ) -> Result<(), PipelineError> {
        if workouts.is_empty() {
            return Ok(());
        }
        let table = placement.table();
        let ids: Vec<String> = workouts.iter().map(|w| w.id.clone()).collect();
        let states = placement.states(&self.store, &ids).await?;
        let mut touched = HashSet::new();
        let mut to_embed = Vec::new();
        for workout in workouts {
            report.total_processed += 1;
            let candidate = candidate(workout);
            let state = states.get(&candidate.id);
            if text::is_blank(&candidate.text) {
                report.total_skipped += 1;
                self.forget_vector(placement, &candidate, state, &mut touched).await?;
            } else if is_unchanged(state, &candidate) {
                report.total_skipped += 1;
            } else {
                to_embed.push(candidate);
            }
        }
        let texts: Vec<String> = to_embed.iter().map(|c| c.text.clone()).collect();
        let vectors = self.embed_isolating_rejects(&texts).await;
        for (candidate, vector) in to_embed.iter().zip(vectors) {
            let saved = match vector {
                Ok(vector) => self.save(placement, candidate, &vector).await,
                Err(err) => {
                    // A workout that never had a vector is recorded, so progress counts it as remaining.
                    if !states.contains_key(&candidate.id) {
                        self.forget_vector(placement, candidate, None, &mut touched).await?;
                    }
                    Err(err.to_string())
                }
            };
            match saved {
                Ok(()) => {
                    report.total_embedded += 1;
                    touched.insert(candidate.user_id.clone());
                }
                Err(error) => {
                    tracing::warn!(workout_id = candidate.id, error, "workout not embedded");
                    report.errors.push(WorkoutFailure { workout_id: candidate.id.clone(), error });
                }
            }
        }
        self.invalidate(table, touched);
        Ok(())
    }

    /// Vectors for `texts`, one result each. A batch OpenAI rejects as a whole (one bad input makes
    /// the request a 400) is retried text by text, so one bad workout fails alone.
    async fn embed_isolating_rejects(&self, texts: &[String]) -> Vec<Result<Vec<f32>, EmbeddingError>> {
        if texts.is_empty() {
            return Vec::new();
        }
        match self.client.embed(texts).await {
            Ok(vectors) => vectors.into_iter().map(Ok).collect(),
            Err(EmbeddingError::Rejected { status: 400, .. }) if texts.len() > 1 => {
                let mut results = Vec::with_capacity(texts.len());
                for text in texts {
                    results.push(self.client.embed(std::slice::from_ref(text)).await.map(|mut v| v.remove(0)));
                }
                results
            }
            Err(err) => texts.iter().map(|_| Err(err.clone())).collect(),
        }
    }

    /// Embeds one workout (mapper-api calls this on create and update). `inline` is the workout when
    /// the database has no shared table.
    pub async fn webhook(
        &self,
        table: SourceTable,
        workout_id: &str,
        inline: Option<Map<String, Value>>,
    ) -> Result<WebhookOutcome, PipelineError> {
        if !self.client.is_configured() {
            return Err(PipelineError::NotConfigured);
        }
        let mut placement = Placement::ServiceTable(table);
        let workout = match inline {
            Some(mut fields) => {
                match fields.get("id").map(id_text) {
                    Some(Some(id)) if id != workout_id => {
                        return Err(PipelineError::InvalidWorkout(format!(
                            "workout.id {id:?} differs from workout_id {workout_id:?}"
                        )));
                    }
                    _ => {
                        fields.insert("id".into(), Value::String(workout_id.to_string()));
                    }
                }
                Some(inline_workout(fields).map_err(|f| PipelineError::InvalidWorkout(f.error))?)
            }
            None => match self.store.source_table(table).await? {
                Some(schema) => {
                    let workout = self.store.source_workout(&schema, workout_id).await?;
                    placement = Placement::of(table, Some(schema));
                    workout
                }
                None => None,
            },
        };
        let Some(workout) = workout else {
            // Gone from its table: it must not be found by search any more either.
            if let Some(owner) = placement.remove(&self.store, workout_id).await? {
                self.invalidate(table, [owner]);
            }
            return Ok(WebhookOutcome::NotFound);
        };
        let candidate = candidate(workout);
        let states = placement.states(&self.store, std::slice::from_ref(&candidate.id)).await?;
        let state = states.get(&candidate.id);
        let mut touched = HashSet::new();
        if text::is_blank(&candidate.text) {
            self.forget_vector(&placement, &candidate, state, &mut touched).await?;
            self.invalidate(table, touched);
            return Ok(WebhookOutcome::Skipped);
        }
        if is_unchanged(state, &candidate) {
            return Ok(WebhookOutcome::Unchanged);
        }
        let vector = match self.client.embed(std::slice::from_ref(&candidate.text)).await {
            Ok(mut vectors) => vectors.remove(0),
            Err(err) => return Ok(WebhookOutcome::Failed(err.to_string())),
        };
        if let Err(error) = self.save(&placement, &candidate, &vector).await {
            return Ok(WebhookOutcome::Failed(error));
        }
        touched.insert(candidate.user_id.clone());
        self.invalidate(table, touched);
        Ok(WebhookOutcome::Embedded)
    }

    /// Counts of `table`: its rows and the embedded ones (of the shared table when there is one, else
    /// of the workouts requests delivered).
    pub async fn progress(&self, table: SourceTable) -> Result<EmbeddingCounts, StoreError> {
        match self.store.source_table(table).await? {
            Some(schema) => self.store.source_embedding_counts(&schema).await,
            None => self.store.known_embedding_counts(table).await,
        }
    }

    async fn save(&self, placement: &Placement, c: &Candidate, vector: &[f32]) -> Result<(), String> {
        let hash = text::content_hash(&c.text);
        let saved = placement.save(&self.store, c.record(placement.table()), &hash, self.client.model(), vector).await;
        saved.map_err(|err| {
            tracing::error!(workout_id = c.id, error = %err, "saving an embedding failed");
            "Failed to save embedding".to_string()
        })
    }

    /// Records `c` without a vector (dropping a stale one: its text is now empty).
    async fn forget_vector(
        &self,
        placement: &Placement,
        c: &Candidate,
        state: Option<&EmbeddingState>,
        touched: &mut HashSet<String>,
    ) -> Result<(), StoreError> {
        placement.forget(&self.store, c.record(placement.table())).await?;
        if let Some(state) = state.filter(|s| s.content_hash.is_some()) {
            touched.insert(state.user_id.clone());
        }
        Ok(())
    }

    fn invalidate(&self, table: SourceTable, users: impl IntoIterator<Item = String>) {
        if table == SEARCHED_TABLE {
            for user in users {
                self.index.invalidate(&user);
            }
        }
    }
}

impl Candidate {
    fn record(&self, table: SourceTable) -> WorkoutRecord<'_> {
        WorkoutRecord {
            table,
            workout_id: &self.id,
            user_id: &self.user_id,
            title: &self.title,
            description: self.description.as_deref(),
        }
    }
}

/// Whether the stored embedding is of exactly this text and owner.
fn is_unchanged(state: Option<&EmbeddingState>, c: &Candidate) -> bool {
    state.is_some_and(|s| {
        s.user_id == c.user_id && s.content_hash.as_deref() == Some(text::content_hash(&c.text).as_str())
    })
}

fn candidate(workout: SourceWorkout) -> Candidate {
    let text = text::build_content(&workout.fields);
    let title = match workout.fields.get("title") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let description = workout.fields.get("description").and_then(Value::as_str).map(str::to_string);
    Candidate { id: workout.id, user_id: workout.user_id, title, description, text }
}

/// An id given as a string or a number.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A workout from a request body: needs an id and an owner (`user_id` or `profile_id`).
fn inline_workout(mut fields: Map<String, Value>) -> Result<SourceWorkout, WorkoutFailure> {
    let id = fields.remove("id").as_ref().and_then(id_text);
    let owner =
        ["user_id", "profile_id"].iter().find_map(|k| fields.get(*k).and_then(Value::as_str).map(str::to_string));
    match (id, owner) {
        (Some(id), Some(user_id)) if !user_id.trim().is_empty() => Ok(SourceWorkout { id, user_id, fields }),
        (Some(id), _) => Err(WorkoutFailure { workout_id: id, error: "workout has no user_id or profile_id".into() }),
        (None, _) => Err(WorkoutFailure { workout_id: String::new(), error: "workout has no id".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn inline_workouts_need_an_id_and_an_owner() {
        let w = inline_workout(object(json!({"id": 7, "profile_id": "u1", "title": "Run"}))).unwrap();
        assert_eq!((w.id.as_str(), w.user_id.as_str()), ("7", "u1"));
        assert_eq!(w.fields.get("title"), Some(&json!("Run")));
        assert_eq!(inline_workout(object(json!({"id": "a", "title": "x"}))).unwrap_err().workout_id, "a");
        assert_eq!(
            inline_workout(object(json!({"user_id": "u", "title": "x"}))).unwrap_err().error,
            "workout has no id"
        );
        assert!(inline_workout(object(json!({"id": "a", "user_id": "  "}))).is_err());
    }

    #[test]
    fn unchanged_means_same_hash_and_same_owner() {
        let c = candidate(SourceWorkout {
            id: "w".into(),
            user_id: "u".into(),
            fields: object(json!({"title": "Leg Day"})),
        });
        let hash = text::content_hash("Leg Day");
        let same = EmbeddingState { user_id: "u".into(), content_hash: Some(hash.clone()) };
        assert!(is_unchanged(Some(&same), &c));
        assert!(!is_unchanged(Some(&EmbeddingState { user_id: "v".into(), content_hash: Some(hash) }), &c));
        assert!(!is_unchanged(Some(&EmbeddingState { user_id: "u".into(), content_hash: None }), &c));
        assert!(!is_unchanged(None, &c));
    }
}
