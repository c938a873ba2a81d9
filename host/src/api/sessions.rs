//! The sessions API: list a user's chats, page through one chat's messages, delete a chat.
//! A session of another user answers exactly like a missing one (404).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use store::Store;

use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery};
use crate::auth::AuthUser;

#[derive(Debug, Deserialize)]
pub struct ListParams {
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct SessionItem {
    id: Uuid,
    title: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// `GET /chat/sessions?limit=20&offset=0`: most recently active first.
pub async fn list(
    State(store): State<Store>,
    user: AuthUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Vec<SessionItem>>, ApiError> {
    let limit = bounded("query.limit", params.limit.unwrap_or(20), 1, 100)?;
    let offset = bounded("query.offset", params.offset.unwrap_or(0), 0, i64::MAX)?;
    let sessions = store.list_sessions(&user.user_id, limit, offset).await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionItem { id: s.id, title: s.title, created_at: s.created_at, updated_at: s.updated_at })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct MessageParams {
    limit: Option<i64>,
    before: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MessageItem {
    id: Uuid,
    role: String,
    content: Option<String>,
    tool_calls: Option<Value>,
    tool_results: Option<Value>,
    tool_use_id: Option<String>,
    incomplete: bool,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct MessagePageBody {
    messages: Vec<MessageItem>,
    has_more: bool,
}

/// `GET /chat/sessions/{id}/messages?limit=50&before=<message id>`: the newest page (oldest first
/// inside it); `before` pages backwards.
pub async fn messages(
    State(store): State<Store>,
    user: AuthUser,
    ApiPath(session_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<MessageParams>,
) -> Result<Json<MessagePageBody>, ApiError> {
    let limit = bounded("query.limit", params.limit.unwrap_or(50), 1, 200)?;
    let before = match params.before.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        None => None,
        Some(raw) => Some(
            Uuid::parse_str(raw).map_err(|_| ApiError::validation("query.before", "must be a message id (UUID)"))?,
        ),
    };
    let session_id = owned_session(&store, &user, &session_id).await?;
    let page = store.message_page(session_id, limit, before).await?;
    Ok(Json(MessagePageBody {
        has_more: page.has_more,
        messages: page
            .messages
            .into_iter()
            .map(|m| MessageItem {
                id: m.id,
                role: m.role,
                content: m.content,
                tool_calls: m.tool_calls.map(|j| j.0),
                tool_results: m.tool_results.map(|j| j.0),
                tool_use_id: m.tool_use_id,
                incomplete: m.incomplete,
                created_at: m.created_at,
            })
            .collect(),
    }))
}

/// `DELETE /chat/sessions/{id}`: 204, messages removed with it.
pub async fn delete(
    State(store): State<Store>,
    user: AuthUser,
    ApiPath(session_id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = Uuid::parse_str(session_id.trim()).map_err(|_| not_found())?;
    if store.delete_session(id, &user.user_id).await? { Ok(StatusCode::NO_CONTENT) } else { Err(not_found()) }
}

async fn owned_session(store: &Store, user: &AuthUser, raw_id: &str) -> Result<Uuid, ApiError> {
    let id = Uuid::parse_str(raw_id.trim()).map_err(|_| not_found())?;
    match store.get_session(id, &user.user_id).await? {
        Some(_) => Ok(id),
        None => Err(not_found()),
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("Session not found".to_string())
}

fn bounded(field: &str, value: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else if value < min {
        Err(ApiError::validation(field, format!("Input should be greater than or equal to {min}")))
    } else {
        Err(ApiError::validation(field, format!("Input should be less than or equal to {max}")))
    }
}
