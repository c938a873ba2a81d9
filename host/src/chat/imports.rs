//! Pending imports: workouts an import tool has previewed but the user has not saved yet.
//!
//! The list comes in with the request (`context.pending_imports`), grows when an import preview
//! arrives (`{"type":"workout_imported","success":true,"persisted":false,…}`), shrinks when a save
//! for that source URL succeeds (`"persisted": true`), goes into the system prompt of later Claude
//! calls and back to the client in `message_end`.

use serde_json::Value;

use super::events::PendingImport;

#[derive(Clone, Debug, Default)]
pub struct PendingImports {
    items: Vec<PendingImport>,
    /// Whether anything was known or changed, i.e. whether `message_end` should carry the list.
    touched: bool,
}

impl PendingImports {
    pub fn new(initial: Option<Vec<PendingImport>>) -> Self {
        let touched = initial.is_some();
        let mut list = PendingImports { items: Vec::new(), touched };
        for item in initial.unwrap_or_default() {
            list.upsert(item);
        }
        list
    }

    pub fn items(&self) -> &[PendingImport] {
        &self.items
    }

    /// The list for `message_end`, when the request had one or the turn changed it.
    pub fn for_message_end(&self) -> Option<Vec<PendingImport>> {
        (self.touched || !self.items.is_empty()).then(|| self.items.clone())
    }

    /// Updates the list from one successful tool result and the arguments of its call.
    pub fn observe(&mut self, arguments: &Value, result: &str) {
        let Ok(result) = serde_json::from_str::<Value>(result) else { return };
        let persisted = result.get("persisted").and_then(Value::as_bool);
        let success = result.get("success").and_then(Value::as_bool).unwrap_or(true);
        if result.get("type").and_then(Value::as_str) == Some("workout_imported") && success && persisted == Some(false)
        {
            if let Some(url) = result.get("source_url").and_then(Value::as_str) {
                let workout = result.get("workout");
                self.upsert(PendingImport {
                    source_url: url.to_string(),
                    title: workout.and_then(|w| w.get("title")).and_then(Value::as_str).map(str::to_string),
                    exercise_count: workout.and_then(|w| w.get("exercise_count")).and_then(Value::as_i64),
                });
            }
        } else if persisted == Some(true)
            && let Some(url) = arguments.get("source_url").and_then(Value::as_str)
        {
            let before = self.items.len();
            self.items.retain(|i| i.source_url != url);
            self.touched |= self.items.len() != before;
        }
    }

    fn upsert(&mut self, item: PendingImport) {
        self.touched = true;
        match self.items.iter_mut().find(|i| i.source_url == item.source_url) {
            Some(existing) => *existing = item,
            None => self.items.push(item),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn previews_are_added_and_saves_remove_them() {
        let mut p = PendingImports::new(None);
        assert_eq!(p.for_message_end(), None);
        let preview = json!({"type": "workout_imported", "success": true, "preview_mode": true, "persisted": false,
            "workout": {"title": "Leg Day", "exercise_count": 5}, "source_url": "https://youtu.be/x"});
        p.observe(&json!({"url": "https://youtu.be/x"}), &preview.to_string());
        assert_eq!(p.items().len(), 1);
        assert_eq!(p.items()[0].title.as_deref(), Some("Leg Day"));
        p.observe(
            &json!({"source_url": "https://youtu.be/x"}),
            r#"{"success": true, "persisted": true, "workout_id": "w1"}"#,
        );
        assert!(p.items().is_empty());
        assert_eq!(p.for_message_end(), Some(vec![]));
    }

    #[test]
    fn unrelated_results_change_nothing() {
        let mut p = PendingImports::new(Some(vec![PendingImport {
            source_url: "u".into(),
            title: None,
            exercise_count: None,
        }]));
        p.observe(&json!({}), "Added workout to calendar on 2026-01-29");
        p.observe(&json!({"query": "legs"}), r#"{"type": "search_results", "workouts": []}"#);
        assert_eq!(p.items().len(), 1);
    }
}
