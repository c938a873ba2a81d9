//! The conversation sent to Claude: the newest turns of the session that fit a token budget,
//! rebuilt into valid Messages-API turns (every `tool_use` followed by its `tool_result`).
//!
//! An assistant row written by this service keeps the exact messages of its turn in `transcript`;
//! rows written by the original service are expanded from `content` and `tool_calls` as it did.
//! Turns the model refused are left out, as Anthropic asks (the context must be reset).

use serde_json::Value;

use store::Message;

use crate::llm::{ApiMessage, ContentBlock, Role, StopReason};

/// How many stored rows are considered at most (the newest).
pub const MAX_ROWS: i64 = 200;

/// Rough size of a message in tokens: about four bytes of JSON per token. Cheap and conservative
/// enough for a budget; Anthropic counts exactly and we only need to stay well inside the window.
fn estimated_tokens(messages: &[ApiMessage]) -> usize {
    messages.iter().map(|m| serde_json::to_string(m).map(|s| s.len()).unwrap_or(0) / 4 + 4).sum()
}

/// One stored exchange: a user message and what the assistant did with it.
struct Exchange<'a> {
    user: &'a Message,
    assistant: Option<&'a Message>,
}

impl Exchange<'_> {
    fn refused(&self) -> bool {
        self.assistant.is_some_and(|a| a.stop_reason.as_deref().map(StopReason::parse) == Some(StopReason::Refusal))
    }

    fn messages(&self) -> Vec<ApiMessage> {
        let text = self.user.content.clone().unwrap_or_default();
        let mut out = vec![ApiMessage { role: Role::User, content: vec![ContentBlock::Text { text }] }];
        if let Some(assistant) = self.assistant {
            out.extend(assistant_messages(assistant));
        }
        out
    }
}

/// Builds the message list from a session's rows (oldest first), newest turns first into the
/// budget; the newest turn (the current message) is always included.
pub fn build(rows: &[Message], token_budget: usize) -> Vec<ApiMessage> {
    let mut exchanges: Vec<Exchange<'_>> = Vec::new();
    for row in rows {
        match row.role.as_str() {
            "user" if row.content.as_deref().is_some_and(|c| !c.trim().is_empty()) => {
                exchanges.push(Exchange { user: row, assistant: None })
            }
            "assistant" => {
                if let Some(exchange) = exchanges.last_mut()
                    && exchange.assistant.is_none()
                {
                    exchange.assistant = Some(row);
                }
            }
            _ => {}
        }
    }

    let mut kept: Vec<Vec<ApiMessage>> = Vec::new();
    let mut used = 0;
    for (i, exchange) in exchanges.iter().enumerate().rev() {
        let newest = i + 1 == exchanges.len();
        if exchange.refused() && !newest {
            continue;
        }
        let messages = exchange.messages();
        let cost = estimated_tokens(&messages);
        if !newest && used + cost > token_budget {
            break;
        }
        used += cost;
        kept.push(messages);
    }
    kept.reverse();
    merge_roles(kept.into_iter().flatten().collect())
}

/// The assistant side of a stored turn.
fn assistant_messages(row: &Message) -> Vec<ApiMessage> {
    if let Some(transcript) = &row.transcript
        && let Ok(messages) = serde_json::from_value::<Vec<ApiMessage>>(transcript.0.clone())
        && !messages.is_empty()
    {
        return sanitize(messages);
    }
    legacy_messages(row)
}

/// Expands an assistant row of the original service: text and tool_use blocks, then the results.
fn legacy_messages(row: &Message) -> Vec<ApiMessage> {
    let mut assistant = Vec::new();
    let mut results = Vec::new();
    if let Some(text) = row.content.as_deref().filter(|t| !t.trim().is_empty()) {
        assistant.push(ContentBlock::Text { text: text.to_string() });
    }
    let calls = row.tool_calls.as_ref().and_then(|j| j.0.as_array().cloned()).unwrap_or_default();
    for call in calls {
        let (Some(id), Some(name)) = (call.get("id").and_then(Value::as_str), call.get("name").and_then(Value::as_str))
        else {
            continue;
        };
        let input = call.get("input").cloned().filter(Value::is_object).unwrap_or_else(|| serde_json::json!({}));
        let result = match call.get("result") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        assistant.push(ContentBlock::ToolUse { id: id.to_string(), name: name.to_string(), input });
        results.push(ContentBlock::ToolResult { tool_use_id: id.to_string(), content: result, is_error: false });
    }
    let mut out = Vec::new();
    if !assistant.is_empty() {
        out.push(ApiMessage { role: Role::Assistant, content: assistant });
    }
    if !results.is_empty() {
        out.push(ApiMessage { role: Role::User, content: results });
    }
    out
}

/// Drops tool_use blocks that have no result in the next message (a turn cut short), so the
/// history never carries an unanswered call.
fn sanitize(messages: Vec<ApiMessage>) -> Vec<ApiMessage> {
    let answered: std::collections::HashSet<String> = messages
        .iter()
        .flat_map(|m| m.content.iter())
        .filter_map(|b| match b {
            ContentBlock::ToolResult { tool_use_id, .. } => Some(tool_use_id.clone()),
            _ => None,
        })
        .collect();
    messages
        .into_iter()
        .map(|mut m| {
            m.content.retain(|b| !matches!(b, ContentBlock::ToolUse { id, .. } if !answered.contains(id)));
            m
        })
        .filter(|m| !m.content.is_empty())
        .collect()
}

/// Joins consecutive messages of one role (a failed turn leaves two user messages in a row; a turn
/// that ended on tool results is followed by the next user message). Tool results stay first.
fn merge_roles(messages: Vec<ApiMessage>) -> Vec<ApiMessage> {
    let mut out: Vec<ApiMessage> = Vec::with_capacity(messages.len());
    for message in messages {
        match out.last_mut() {
            Some(last) if last.role == message.role => last.content.extend(message.content),
            _ => out.push(message),
        }
    }
    // The conversation must open with the user.
    while out.first().is_some_and(|m| m.role != Role::User) {
        out.remove(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;
    use store::Json;
    use uuid::Uuid;

    fn row(role: &str, content: &str) -> Message {
        Message {
            id: Uuid::new_v4(),
            session_id: Uuid::nil(),
            role: role.to_string(),
            content: Some(content.to_string()),
            tool_calls: None,
            tool_results: None,
            tool_use_id: None,
            model: None,
            tokens_used: None,
            latency_ms: None,
            input_tokens: None,
            output_tokens: None,
            cache_read_input_tokens: None,
            cache_creation_input_tokens: None,
            incomplete: false,
            stop_reason: None,
            transcript: None,
            created_at: Utc::now(),
        }
    }

    fn text(m: &ApiMessage) -> String {
        m.content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn legacy_rows_expand_into_tool_use_and_results() {
        let mut a = row("assistant", "Here you go");
        a.tool_calls = Some(Json(
            json!([{"id": "toolu_1", "name": "search_workout_library", "input": {"query": "legs"}, "result": "{}"}]),
        ));
        let rows = vec![row("user", "find legs"), row("tool_result", "{}"), a, row("user", "thanks")];
        let msgs = build(&rows, 10_000);
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[0].role, Role::User);
        assert!(matches!(msgs[1].content[1], ContentBlock::ToolUse { .. }));
        // The results and the next user text share one user message, results first.
        assert!(matches!(msgs[2].content[0], ContentBlock::ToolResult { .. }));
        assert_eq!(text(&msgs[2]), "thanks");
    }

    #[test]
    fn the_budget_keeps_the_newest_turns() {
        let mut rows = Vec::new();
        for i in 0..50 {
            rows.push(row("user", &format!("question {i} {}", "x".repeat(400))));
            rows.push(row("assistant", &format!("answer {i} {}", "y".repeat(400))));
        }
        rows.push(row("user", "latest"));
        let msgs = build(&rows, 1_000);
        assert!(msgs.len() < 20);
        assert_eq!(text(msgs.last().unwrap()), "latest");
        assert_eq!(msgs[0].role, Role::User);
    }

    #[test]
    fn refused_turns_are_left_out() {
        let mut refused = row("assistant", "I can't");
        refused.stop_reason = Some("refusal".into());
        let rows = vec![row("user", "bad request"), refused, row("user", "next")];
        let msgs = build(&rows, 10_000);
        assert_eq!(msgs.len(), 1);
        assert_eq!(text(&msgs[0]), "next");
    }

    #[test]
    fn unanswered_tool_uses_are_dropped_from_transcripts() {
        let mut a = row("assistant", "");
        a.transcript = Some(Json(json!([
            {"role": "assistant", "content": [{"type": "text", "text": "hm"}, {"type": "tool_use", "id": "t1", "name": "x", "input": {}}]}
        ])));
        let rows = vec![row("user", "go"), a, row("user", "again")];
        let msgs = build(&rows, 10_000);
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[1].content.len(), 1);
    }
}
