//! Chat sessions: one conversation of one user. Ownership is part of every query, so a session of
//! another user is indistinguishable from a missing one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::{Result, Store, with_pool};

/// A session as the sessions API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    #[serde(skip)]
    pub user_id: String,
    pub title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// Creates a session for `user_id`.
    pub async fn create_session(&self, user_id: &str, title: &str) -> Result<Session> {
        let now = crate::now();
        let session = Session {
            id: Uuid::new_v4(),
            user_id: user_id.to_string(),
            title: Some(crate::text::storable(title).into_owned()),
            created_at: now,
            updated_at: now,
        };
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO chat_sessions (id, user_id, title, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(session.id)
            .bind(&session.user_id)
            .bind(&session.title)
            .bind(session.created_at)
            .bind(session.updated_at)
            .execute(pool)
            .await?;
        });
        Ok(session)
    }

    /// The session `id` if it belongs to `user_id`.
    pub async fn get_session(&self, id: Uuid, user_id: &str) -> Result<Option<Session>> {
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, Session>(
                "SELECT id, user_id, title, created_at, updated_at FROM chat_sessions WHERE id = $1 AND user_id = $2",
            )
            .bind(id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// The user's sessions, most recently active first.
    pub async fn list_sessions(&self, user_id: &str, limit: i64, offset: i64) -> Result<Vec<Session>> {
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, Session>(
                "SELECT id, user_id, title, created_at, updated_at FROM chat_sessions WHERE user_id = $1 \
                 ORDER BY updated_at DESC, id DESC LIMIT $2 OFFSET $3",
            )
            .bind(user_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Deletes the session and (by cascade) its messages. `false` when there was no such session
    /// of this user.
    pub async fn delete_session(&self, id: Uuid, user_id: &str) -> Result<bool> {
        let done = with_pool!(self, pool => {
            sqlx::query("DELETE FROM chat_sessions WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// Sets the title (new sessions are titled from their first message).
    pub async fn set_session_title(&self, id: Uuid, title: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE chat_sessions SET title = $1, updated_at = $2 WHERE id = $3")
                .bind(crate::text::storable(title))
                .bind(crate::now())
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

/// The title of a new session: the first 80 characters of the first message; a longer message is
/// cut at its last space within them and gets `...`, as the original service did.
pub fn title_from_message(message: &str) -> String {
    const MAX: usize = 80;
    let message = message.trim();
    if message.chars().count() <= MAX {
        return message.to_string();
    }
    let head: String = message.chars().take(MAX).collect();
    let cut = match head.rfind(' ') {
        Some(i) if i > 0 => head[..i].trim_end(),
        _ => head.as_str(),
    };
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::title_from_message;

    #[test]
    fn short_messages_are_the_title() {
        assert_eq!(title_from_message("  Find me a leg workout "), "Find me a leg workout");
    }

    #[test]
    fn long_messages_are_cut_at_a_space() {
        let msg = "word ".repeat(30);
        let t = title_from_message(&msg);
        assert!(t.ends_with("..."));
        assert!(t.chars().count() <= 83);
        assert!(!t.contains("wor..."));
    }

    #[test]
    fn multibyte_text_is_cut_on_characters() {
        let msg = "é".repeat(100);
        let t = title_from_message(&msg);
        assert_eq!(t, format!("{}...", "é".repeat(80)));
    }
}
