//! Service-to-service authentication: `X-Internal-Key` must equal `INTERNAL_API_KEY`, compared in
//! constant time. Used by `/internal/*` and the plugin admin API.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::api::error::ApiError;
use crate::app::AppState;
use crate::config::Secret;

/// Proof that the request carried the internal key.
#[derive(Clone, Copy, Debug)]
pub struct InternalCaller;

/// Compares two secrets without leaking where they differ. Different lengths compare unequal
/// (the length of the expected key is not secret enough to matter).
pub fn constant_time_eq(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Checks a presented internal key against `INTERNAL_API_KEY` (503 while none is configured).
pub fn verify(given: &str, state: &AppState) -> Result<InternalCaller, ApiError> {
    let expected = state
        .config
        .auth
        .internal_api_key
        .as_ref()
        .map(Secret::expose)
        .ok_or_else(|| ApiError::ServiceUnavailable("Internal API key not configured".to_string()))?;
    if constant_time_eq(given, expected) {
        Ok(InternalCaller)
    } else {
        Err(ApiError::Forbidden("Invalid internal API key".to_string()))
    }
}

impl FromRequestParts<AppState> for InternalCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.config.auth.internal_api_key.is_none() {
            return Err(ApiError::ServiceUnavailable("Internal API key not configured".to_string()));
        }
        let given = parts
            .headers
            .get("x-internal-key")
            .ok_or_else(|| ApiError::validation("header.x-internal-key", "Field required"))?
            .to_str()
            .unwrap_or("");
        verify(given, state)
    }
}
