//! The development chat page: `GET /` serves one static HTML file (inline JS and CSS) that chats
//! with this service from a browser, and `GET /dev/token` hands it a mobile pairing token for the
//! development user, so the page works without Clerk.
//!
//! Both routes exist only with `ENVIRONMENT=development` *and* the public default `JWT_SECRET`:
//! a token signed with a published secret grants nothing an outsider could not forge anyway, so
//! the page can never widen access to a deployment that set a real secret (production refuses the
//! default at start-up).

use axum::Json;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde_json::json;

use super::error::ApiError;
use super::state::AppState;
use crate::auth::mobile;
use crate::config::{Config, DEFAULT_JWT_SECRET, Environment};

/// The user the development token is for (the offline dev stack seeds its workouts).
pub const DEV_USER: &str = "user_dev_local";

/// How long a development token lasts.
const TOKEN_HOURS: i64 = 12;

const PAGE: &str = include_str!("dev_page.html");

/// Whether this configuration serves the page and the token.
pub fn enabled(config: &Config) -> bool {
    config.environment == Environment::Development && config.auth.jwt_secret.expose() == DEFAULT_JWT_SECRET
}

/// The page's routes, or none when [`enabled`] is false (then `/` is the usual 404).
pub fn routes(config: &Config) -> Router<AppState> {
    if !enabled(config) {
        return Router::new();
    }
    Router::new().route("/", get(page)).route("/dev/token", get(token))
}

async fn page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Html(PAGE))
}

#[derive(serde::Serialize)]
struct PairingClaims<'a> {
    sub: &'a str,
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// `GET /dev/token`: `{"token", "user_id", "expires_at"}` for [`DEV_USER`], an HS256 pairing token
/// as the mobile verifier accepts.
async fn token() -> Result<impl IntoResponse, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let exp = now + TOKEN_HOURS * 3600;
    let claims = PairingClaims { sub: DEV_USER, iss: mobile::ISSUER, aud: mobile::AUDIENCE, iat: now, exp };
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(DEFAULT_JWT_SECRET.as_bytes()),
    )
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("signing the development token: {e}")))?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"token": token, "user_id": DEV_USER, "expires_at": exp})),
    ))
}
