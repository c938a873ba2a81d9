//! Chat messages: the rows a turn writes (user message, one row per tool result, the assistant
//! reply) and the pages the sessions API and the history builder read.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::text::{storable, storable_json};
use crate::{Result, Store, with_pool};

/// Who wrote a message. `tool_result` rows record one executed tool call each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    ToolResult,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::ToolResult => "tool_result",
        }
    }
}

/// A stored message.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Message {
    pub id: Uuid,
    pub session_id: Uuid,
    pub role: String,
    pub content: Option<String>,
    pub tool_calls: Option<Json<Value>>,
    pub tool_results: Option<Json<Value>>,
    pub tool_use_id: Option<String>,
    pub model: Option<String>,
    pub tokens_used: Option<i32>,
    pub latency_ms: Option<i32>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    pub cache_read_input_tokens: Option<i32>,
    pub cache_creation_input_tokens: Option<i32>,
    pub incomplete: bool,
    /// Why the model stopped (`end_turn`, `tool_use`, `max_tokens`, `refusal`, …), for assistant rows.
    pub stop_reason: Option<String>,
    /// The turn's messages in Messages-API form (assistant content and tool results), for history.
    pub transcript: Option<Json<Value>>,
    pub created_at: DateTime<Utc>,
}

/// A message to write.
#[derive(Clone, Debug, Default)]
pub struct NewMessage {
    pub session_id: Uuid,
    pub user_id: String,
    pub role: Option<Role>,
    pub content: Option<String>,
    pub tool_calls: Option<Value>,
    pub tool_use_id: Option<String>,
    pub model: Option<String>,
    pub latency_ms: Option<i32>,
    pub input_tokens: Option<i32>,
    pub output_tokens: Option<i32>,
    pub cache_read_input_tokens: Option<i32>,
    pub cache_creation_input_tokens: Option<i32>,
    pub incomplete: bool,
    pub stop_reason: Option<String>,
    pub transcript: Option<Value>,
}

/// One page of a session's messages, oldest first inside the page.
#[derive(Clone, Debug)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// Older messages exist before this page.
    pub has_more: bool,
}

const COLUMNS: &str = "id, session_id, role, content, tool_calls, tool_results, tool_use_id, model, tokens_used, \
     latency_ms, input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens, incomplete, stop_reason, transcript, created_at";

impl Store {
    /// Writes a message and moves the session's `updated_at` with it, in one transaction. NUL
    /// characters in its texts are replaced ([`crate::text`]), so the write never fails on them.
    pub async fn insert_message(&self, msg: &NewMessage) -> Result<Uuid> {
        let id = Uuid::new_v4();
        let now = crate::now();
        let role = msg.role.unwrap_or(Role::User).as_str();
        let tokens_used = match (msg.input_tokens, msg.output_tokens) {
            (None, None) => None,
            (i, o) => Some(i.unwrap_or(0).saturating_add(o.unwrap_or(0))),
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO chat_messages (id, session_id, user_id, role, content, tool_calls, tool_use_id, model, \
                 tokens_used, latency_ms, input_tokens, output_tokens, cache_read_input_tokens, \
                 cache_creation_input_tokens, incomplete, stop_reason, transcript, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .bind(id)
            .bind(msg.session_id)
            .bind(&msg.user_id)
            .bind(role)
            .bind(msg.content.as_deref().map(storable))
            .bind(msg.tool_calls.as_ref().map(|v| Json(storable_json(v))))
            .bind(&msg.tool_use_id)
            .bind(&msg.model)
            .bind(tokens_used)
            .bind(msg.latency_ms)
            .bind(msg.input_tokens)
            .bind(msg.output_tokens)
            .bind(msg.cache_read_input_tokens)
            .bind(msg.cache_creation_input_tokens)
            .bind(msg.incomplete)
            .bind(&msg.stop_reason)
            .bind(msg.transcript.as_ref().map(|v| Json(storable_json(v))))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE chat_sessions SET updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(msg.session_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(id)
    }

    /// The newest `limit` messages of a session, or the newest ones older than the message `before`
    /// (an unknown cursor, or one from another session, gives an empty page). Messages are ordered
    /// by `(created_at, id)`, so rows that share a timestamp (written by two instances at once) are
    /// neither skipped nor repeated across pages. Ownership is checked by the caller.
    pub async fn message_page(&self, session_id: Uuid, limit: i64, before: Option<Uuid>) -> Result<MessagePage> {
        let fetch = limit + 1;
        let mut rows = with_pool!(self, pool => {
            match before {
                None => sqlx::query_as::<_, Message>(&format!(
                    "SELECT {COLUMNS} FROM chat_messages WHERE session_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
                ))
                .bind(session_id)
                .bind(fetch)
                .fetch_all(pool)
                .await?,
                Some(cursor) => sqlx::query_as::<_, Message>(&format!(
                    "SELECT {COLUMNS} FROM chat_messages WHERE session_id = $1 AND (created_at, id) < \
                     (SELECT c.created_at, c.id FROM chat_messages c WHERE c.id = $2 AND c.session_id = $1) \
                     ORDER BY created_at DESC, id DESC LIMIT $3"
                ))
                .bind(session_id)
                .bind(cursor)
                .bind(fetch)
                .fetch_all(pool)
                .await?,
            }
        });
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        rows.reverse();
        Ok(MessagePage { messages: rows, has_more })
    }

    /// How many messages a session holds (tests and diagnostics).
    pub async fn count_messages(&self, session_id: Uuid) -> Result<i64> {
        let n: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM chat_messages WHERE session_id = $1")
                .bind(session_id)
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// Whether `user_id` wrote the user message `id` (a turn's id): a turn past its event log's
    /// retention is still known by it.
    pub async fn user_message_exists(&self, id: Uuid, user_id: &str) -> Result<bool> {
        let n: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM chat_messages WHERE id = $1 AND user_id = $2 AND role = 'user'")
                .bind(id)
                .bind(user_id)
                .fetch_one(pool)
                .await?
        });
        Ok(n > 0)
    }
}
