//! `/internal/embeddings/*`: the service-to-service endpoints mapper-api and operators call to keep
//! the workout embeddings current, with the original request and response bodies. Every route needs
//! `X-Internal-Key` ([`InternalCaller`]): 503 when no key is configured, 403 for a wrong key, 422
//! when the header is missing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use store::embeddings::SourceTable;

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, InternalCaller};
use crate::embeddings::{Embeddings, GenerateReport, PipelineError, WebhookOutcome, Workouts};

/// The `table` literal of the original (`"workouts"` by default).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableName {
    #[default]
    Workouts,
    FollowAlongWorkouts,
}

impl From<TableName> for SourceTable {
    fn from(table: TableName) -> SourceTable {
        match table {
            TableName::Workouts => SourceTable::Workouts,
            TableName::FollowAlongWorkouts => SourceTable::FollowAlongWorkouts,
        }
    }
}

/// `POST /internal/embeddings/generate`.
#[derive(Debug, Deserialize)]
pub struct GenerateRequest {
    #[serde(default)]
    pub table: TableName,
    /// Only these workouts; absent (or empty) means every workout without an embedding.
    pub workout_ids: Option<Vec<String>>,
    /// The workouts themselves, for a database without the shared tables.
    pub workouts: Option<Vec<Map<String, Value>>>,
}

/// `POST /internal/embeddings/webhook`.
#[derive(Debug, Deserialize)]
pub struct WebhookRequest {
    #[serde(default)]
    pub table: TableName,
    pub workout_id: String,
    /// The workout itself, for a database without the shared tables.
    pub workout: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize)]
pub struct WebhookResponse {
    pub status: &'static str,
    pub workout_id: String,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProgressResponse {
    pub table: &'static str,
    pub total: i64,
    pub embedded: i64,
    pub remaining: i64,
}

pub async fn generate(
    _caller: InternalCaller,
    State(embeddings): State<Embeddings>,
    ApiJson(body): ApiJson<GenerateRequest>,
) -> Result<Json<GenerateReport>, ApiError> {
    let ids = body.workout_ids.filter(|ids| !ids.is_empty());
    let source = match body.workouts {
        Some(workouts) => Workouts::Inline { workouts, ids },
        None => Workouts::Table { ids },
    };
    let report = embeddings.pipeline.generate(body.table.into(), source).await.map_err(pipeline_error)?;
    Ok(Json(report))
}

pub async fn progress(
    _caller: InternalCaller,
    State(embeddings): State<Embeddings>,
    ApiPath(table): ApiPath<String>,
) -> Result<Json<ProgressResponse>, ApiError> {
    let table = SourceTable::parse(&table)
        .ok_or_else(|| ApiError::validation("path.table", "Input should be 'workouts' or 'follow_along_workouts'"))?;
    let counts = embeddings.pipeline.progress(table).await?;
    Ok(Json(ProgressResponse {
        table: table.as_str(),
        total: counts.total,
        embedded: counts.embedded,
        remaining: counts.total - counts.embedded,
    }))
}

pub async fn webhook(
    _caller: InternalCaller,
    State(embeddings): State<Embeddings>,
    ApiJson(body): ApiJson<WebhookRequest>,
) -> Result<Response, ApiError> {
    let table: SourceTable = body.table.into();
    let outcome = embeddings.pipeline.webhook(table, &body.workout_id, body.workout).await.map_err(pipeline_error)?;
    Ok(match outcome {
        WebhookOutcome::NotFound => {
            ApiError::NotFound(format!("Workout {} not found in {}", body.workout_id, table.as_str())).into_response()
        }
        WebhookOutcome::Failed(error) => (StatusCode::BAD_GATEWAY, Json(json!({"detail": error}))).into_response(),
        done => {
            Json(WebhookResponse { status: done.status(), workout_id: body.workout_id, error: None }).into_response()
        }
    })
}

fn pipeline_error(err: PipelineError) -> ApiError {
    match err {
        PipelineError::NotConfigured => ApiError::ServiceUnavailable(err.to_string()),
        PipelineError::InvalidWorkout(message) => ApiError::validation("body.workout", message),
        PipelineError::Store(err) => err.into(),
    }
}
