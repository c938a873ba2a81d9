//! What a turn is asked to do: the user's message, the session to continue and where the user is
//! in the app. The API layer validates the request body and hands the turn this already-valid form.

use serde::Deserialize;
use uuid::Uuid;

use super::events::PendingImport;

/// One valid chat request.
#[derive(Clone, Debug)]
pub struct TurnRequest {
    /// 1–10,000 characters, not blank.
    pub message: String,
    /// The session to continue; `None` starts a new one.
    pub session_id: Option<Uuid>,
    pub context: Option<ChatContext>,
}

/// Where the user is in the app; it becomes the `## Current Context` of the system prompt.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ChatContext {
    #[serde(default)]
    pub current_page: Option<String>,
    #[serde(default)]
    pub selected_workout_id: Option<String>,
    #[serde(default)]
    pub selected_date: Option<String>,
    #[serde(default)]
    pub pending_imports: Option<Vec<PendingImport>>,
}
