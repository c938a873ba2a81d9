//! The one error type of the HTTP layer. Every failure maps to a status and a FastAPI-shaped JSON
//! body (`{"detail": …}`) the original clients understand; internal errors are logged with their
//! cause and shown to the client only as a generic message.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A request that does not match its schema: `field` is the location (`body.message`).
    #[error("{field}: {message}")]
    Validation { field: String, message: String, kind: &'static str },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request conflicts with the current state (e.g. nothing to roll back to).
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A configuration gap the operator must fix (original: 500 with a detail).
    #[error("{0}")]
    Misconfigured(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation { field: field.into(), message: message.into(), kind: "value_error" }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Misconfigured(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<chat_store::StoreError> for ApiError {
    fn from(err: chat_store::StoreError) -> Self {
        ApiError::Internal(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::Validation { field, message, kind } => {
                let loc: Vec<&str> = field.split('.').collect();
                json!({"detail": [{"loc": loc, "msg": message, "type": kind}]})
            }
            ApiError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "internal error");
                json!({"detail": "Internal server error"})
            }
            other => json!({"detail": other.to_string()}),
        };
        (status, Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("Expected request with `Content-Type: application/json`".to_string())
            }
            JsonRejection::JsonSyntaxError(e) => ApiError::Validation {
                field: "body".to_string(),
                message: format!("JSON decode error: {}", e.body_text()),
                kind: "json_invalid",
            },
            JsonRejection::JsonDataError(e) => ApiError::Validation {
                field: "body".to_string(),
                message: e.body_text(),
                kind: "value_error",
            },
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            other => ApiError::Validation { field: "body".to_string(), message: other.body_text(), kind: "value_error" },
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Validation { field: "query".to_string(), message: rejection.body_text(), kind: "value_error" }
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Query` whose rejections are [`ApiError`]s.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);
