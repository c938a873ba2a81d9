//! The one error type of the HTTP layer. Every failure maps to a status and a FastAPI-shaped JSON
//! body (`{"detail": …}`) the original clients understand; internal errors are logged with their
//! cause and shown to the client only as a generic message.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::AuthError;

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
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request conflicts with the current state (e.g. nothing to roll back to).
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    PayloadTooLarge,
    /// A part of the body is over its own cap (the message names it and the cap).
    #[error("{0}")]
    PartTooLarge(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    /// The resource existed but is no longer kept (a turn's events past their retention).
    #[error("{0}")]
    Gone(String),
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
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge | ApiError::PartTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Misconfigured(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<store::StoreError> for ApiError {
    fn from(err: store::StoreError) -> Self {
        ApiError::Internal(err.into())
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::TestAuthInProduction | AuthError::WrongKey(_) => ApiError::Forbidden(err.to_string()),
            AuthError::ClerkNotConfigured => ApiError::Misconfigured(err.to_string()),
            AuthError::KeysUnavailable | AuthError::KeyNotConfigured(_) => {
                ApiError::ServiceUnavailable(err.to_string())
            }
            other => ApiError::Unauthorized(other.to_string()),
        }
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
            JsonRejection::JsonSyntaxError(e) => {
                // Without the path: where the text stopped being JSON is what helps here.
                let reason = match decoder_error(&e) {
                    Some(err) => match err.downcast_ref::<PathError>() {
                        Some(err) => err.inner().to_string(),
                        None => err.to_string(),
                    },
                    None => e.body_text(),
                };
                ApiError::Validation {
                    field: "body".to_string(),
                    message: format!("JSON decode error: {reason}"),
                    kind: "json_invalid",
                }
            }
            JsonRejection::JsonDataError(e) => {
                match decoder_error(&e).and_then(|err| err.downcast_ref::<PathError>()) {
                    Some(err) => data_error(err),
                    None => {
                        ApiError::Validation { field: "body".to_string(), message: e.body_text(), kind: "value_error" }
                    }
                }
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => {
                ApiError::Validation { field: "body".to_string(), message: other.body_text(), kind: "value_error" }
            }
        }
    }
}

/// A decoding error with the path of the value it is about.
type PathError = serde_path_to_error::Error<serde_json::Error>;

/// The decoder's error inside an axum JSON rejection (axum wraps it twice: rejection →
/// `axum::Error` → the boxed error): a [`PathError`], or serde_json's own for trailing characters.
fn decoder_error(rejection: &dyn std::error::Error) -> Option<&(dyn std::error::Error + 'static)> {
    rejection.source()?.source()
}

/// A body that is JSON but not of the expected shape, located like FastAPI does: `loc` is the
/// path of the offending field (`["body", "context", "selected_date"]`), and a missing field is
/// `{"type": "missing", "msg": "Field required"}` at the field's own location.
fn data_error(err: &PathError) -> ApiError {
    use serde_path_to_error::Segment;
    let mut field = String::from("body");
    for segment in err.path() {
        match segment {
            Segment::Seq { index } => field = format!("{field}.{index}"),
            Segment::Map { key } => field = format!("{field}.{key}"),
            Segment::Enum { variant } => field = format!("{field}.{variant}"),
            Segment::Unknown => {}
        }
    }
    let message = err.inner().to_string();
    // serde reports a missing or repeated field at its parent: locate it at the field itself.
    let named = |prefix: &str| Some(message.strip_prefix(prefix)?.split_once('`')?.0.to_string());
    if let Some(name) = named("missing field `") {
        return ApiError::Validation {
            field: format!("{field}.{name}"),
            message: "Field required".into(),
            kind: "missing",
        };
    }
    if let Some(name) = named("duplicate field `") {
        field = format!("{field}.{name}");
    }
    ApiError::Validation { field, message, kind: "value_error" }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Validation { field: "query".to_string(), message: rejection.body_text(), kind: "value_error" }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::Validation { field: "path".to_string(), message: rejection.body_text(), kind: "value_error" }
    }
}

#[cfg(test)]
mod tests {
    //! The rejection mapping of [`ApiJson`], exercised through a real router: every bad body is a
    //! 4xx with a JSON `detail` that says what is wrong, never a 500.

    use axum::Router;
    use axum::body::Body;
    use axum::extract::DefaultBodyLimit;
    use axum::http::{Request, header};
    use axum::routing::post;
    use serde::Deserialize;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::api::extract::ApiJson;

    #[derive(Deserialize)]
    struct Greeting {
        message: String,
    }

    fn app() -> Router {
        Router::new()
            .route("/echo", post(|ApiJson(g): ApiJson<Greeting>| async move { g.message }))
            .layer(DefaultBodyLimit::max(64))
    }

    async fn send(content_type: Option<&str>, body: impl Into<Body>) -> (StatusCode, Value) {
        let mut request = Request::post("/echo");
        if let Some(ct) = content_type {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        let response = app().oneshot(request.body(body.into()).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let json = if status.is_success() {
            Value::String(String::from_utf8_lossy(&bytes).into())
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("error body is not JSON ({e}): {bytes:?}"))
        };
        (status, json)
    }

    #[tokio::test]
    async fn a_valid_body_reaches_the_handler() {
        let (status, body) = send(Some("application/json"), r#"{"message":"hi"}"#).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "hi");
    }

    #[tokio::test]
    async fn syntax_errors_are_422_naming_the_problem() {
        let (status, body) = send(Some("application/json"), r#"{"message": "#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["detail"][0]["type"], "json_invalid");
        assert_eq!(body["detail"][0]["loc"][0], "body");
        assert!(
            body["detail"][0]["msg"].as_str().unwrap().starts_with("JSON decode error: EOF while parsing"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn schema_errors_are_422_naming_the_field() {
        let (status, body) = send(Some("application/json"), r#"{"text":"hi"}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["detail"][0], json!({"loc": ["body", "message"], "msg": "Field required", "type": "missing"}));
        let (status, body) = send(Some("application/json"), r#"{"message":42}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "message"]));
        assert!(
            body["detail"][0]["msg"].as_str().unwrap().starts_with("invalid type: integer `42`, expected a string")
        );
        let (status, body) = send(Some("application/json"), r#"[1, 2]"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body"]));
        assert!(body["detail"][0]["msg"].as_str().unwrap().starts_with("invalid type: sequence"), "{body}");
    }

    #[tokio::test]
    async fn wrong_or_missing_content_types_are_415() {
        for ct in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
            let (status, body) = send(ct, r#"{"message":"hi"}"#).await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
            assert!(body["detail"].as_str().unwrap().contains("application/json"), "{body}");
        }
    }

    #[tokio::test]
    async fn oversized_bodies_are_413() {
        let big = format!(r#"{{"message":"{}"}}"#, "x".repeat(1000));
        let (status, body) = send(Some("application/json"), big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["detail"], "request body too large");
    }

    #[tokio::test]
    async fn non_utf8_and_empty_bodies_are_4xx() {
        let (status, _) = send(Some("application/json"), vec![0xff, 0xfe, 0x00]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = send(Some("application/json"), "").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let response = ApiError::internal(anyhow::anyhow!("password=hunter2 in a query")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap()["detail"], "Internal server error");
    }
}
