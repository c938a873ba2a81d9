//! Embeddings of the users' workouts and the semantic search over them.
//!
//! - [`text`]: the text a workout is embedded as and its content hash, as the original built them.
//! - [`openai`]: the OpenAI embeddings client (batches, retries, the key kept out of logs).
//! - [`pipeline`]: the use cases of `/internal/embeddings/*` (generate, webhook, progress).
//! - [`placement`]: where a table's vectors are kept (the shared table's pgvector columns, or
//!   `workout_embeddings`).
//! - [`index`]: the user-scoped cosine top-k search the plugins reach through the host: in Postgres
//!   with pgvector when `workouts` has the vector columns, else over an in-process copy.
//!
//! [`Embeddings::new`] builds the pipeline and the index together: the pipeline invalidates the
//! index's cached vectors of every user it writes for.

pub mod index;
pub mod openai;
pub mod pipeline;
pub mod placement;
pub mod text;

use std::sync::Arc;

use store::Store;

pub use index::{IndexOptions, SearchError, WorkoutIndex, WorkoutMatch};
pub use openai::{EmbeddingError, EmbeddingsClient, RetryPolicy};
pub use pipeline::{EmbeddingPipeline, GenerateReport, PipelineError, WebhookOutcome, Workouts};

use crate::config::OpenAiConfig;

/// The pipeline and the search index, wired to each other.
#[derive(Clone)]
pub struct Embeddings {
    pub pipeline: Arc<EmbeddingPipeline>,
    pub index: Arc<WorkoutIndex>,
}

impl Embeddings {
    pub fn new(store: Store, http: reqwest::Client, openai: &OpenAiConfig) -> Embeddings {
        Embeddings::with_client(store, EmbeddingsClient::new(http, openai), IndexOptions::default())
    }

    /// With a client and index options of the caller's choosing (tests shorten retries).
    pub fn with_client(store: Store, client: EmbeddingsClient, options: IndexOptions) -> Embeddings {
        let index = WorkoutIndex::new(store.clone(), options);
        let pipeline = EmbeddingPipeline::new(store, client, index.clone());
        Embeddings { pipeline, index }
    }
}
