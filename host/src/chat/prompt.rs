//! The system prompt: the coach persona and the confirm-before-save rule (static, so Anthropic's
//! prompt cache keeps it), followed by what changes per request: the page the user is on and the
//! imports waiting for confirmation.

use super::events::PendingImport;
use super::request::ChatContext;

/// The persona and rules of the original service, in our words.
pub const BASE_PROMPT: &str = "\
You are the AmakaFlow coach: an expert fitness coach and workout-planning assistant inside the AmakaFlow app.

Your expertise covers exercise programming and periodisation, exercise selection and technique, recovery and \
injury prevention, the basics of nutrition for training, and adapting plans to every experience level.

Guidelines:
- Be encouraging, practical and evidence-based.
- Ask a clarifying question before prescribing when goals, experience, equipment or time are unclear.
- Put safety first: give form cues and sensible progressions; never push through pain.
- Use the tools to personalise: look up the user's library, history and calendar instead of guessing.
- Be concise: short paragraphs and bullet points.
- For medical questions, injuries or health conditions, recommend a qualified professional.

CRITICAL: the two-step confirm-before-save workflow.
1. `generate_workout` and every `import_*` tool only create a PREVIEW. Nothing is saved yet.
2. After a preview, STOP: summarise it and ask the user whether to save it. Do not call a save tool in the \
same response.
3. Only after the user confirms, call `save_and_push_workout(preview_id)` for a generated workout or \
`save_imported_workout(source_url)` for an import.
4. Never say a workout was saved, scheduled or added unless a tool result says `\"persisted\": true`.

Example: the user asks for a 30-minute leg workout. You call `generate_workout`, describe the preview and ask \
\"Shall I save this to your library?\". The user says yes. Only then you call `save_and_push_workout` with the \
preview_id from the preview, and confirm once the result says it was persisted.";

/// The full system prompt of one Claude call.
pub fn system_prompt(context: Option<&ChatContext>, pending: &[PendingImport]) -> String {
    let mut prompt = String::from(BASE_PROMPT);
    if !pending.is_empty() {
        prompt.push_str("\n\n## Pending Import State\n");
        prompt.push_str(
            "These imports were previewed and are waiting for the user's confirmation. Do not import them again. \
             When the user confirms, call `save_imported_workout(source_url=\"…\")` with the URL below.\n",
        );
        for import in pending {
            prompt.push_str(&format!("- URL: {}", import.source_url));
            if let Some(title) = &import.title {
                // Quoted (JSON string rules), so no title can begin a line of its own.
                prompt.push_str(&format!(" | title: {}", serde_json::Value::from(title.as_str())));
            }
            if let Some(n) = import.exercise_count {
                prompt.push_str(&format!(" | exercises: {n}"));
            }
            prompt.push('\n');
        }
    }
    if let Some(line) = context.and_then(context_line) {
        prompt.push_str("\n\n## Current Context\n");
        prompt.push_str(&line);
    }
    prompt
}

/// One sentence describing the page, or nothing for pages the model need not know about.
fn context_line(ctx: &ChatContext) -> Option<String> {
    match (ctx.current_page.as_deref(), ctx.selected_workout_id.as_deref(), ctx.selected_date.as_deref()) {
        (Some("workout_detail"), Some(id), _) => Some(format!(
            "The user is viewing workout ID {id}. When they say \"this workout\", they mean this one; use its ID with the tools."
        )),
        (Some("library"), _, _) => Some("The user is browsing their workout library.".to_string()),
        (Some("calendar"), _, Some(date)) => {
            Some(format!("The user is viewing their calendar for {date}. \"That day\" means {date}."))
        }
        (Some("calendar"), _, None) => Some("The user is viewing their calendar.".to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_prompt_stands_alone_without_context() {
        assert_eq!(system_prompt(None, &[]), BASE_PROMPT);
    }

    #[test]
    fn context_and_pending_imports_are_appended() {
        let ctx = ChatContext {
            current_page: Some("calendar".into()),
            selected_date: Some("2026-02-01".into()),
            ..Default::default()
        };
        let pending = [PendingImport {
            source_url: "https://youtu.be/x".into(),
            title: Some("Leg Day".into()),
            exercise_count: Some(5),
        }];
        let p = system_prompt(Some(&ctx), &pending);
        assert!(p.starts_with(BASE_PROMPT));
        assert!(p.contains("## Pending Import State\n"));
        assert!(p.contains("- URL: https://youtu.be/x | title: \"Leg Day\" | exercises: 5"), "{p}");
        assert!(p.contains("## Current Context\nThe user is viewing their calendar for 2026-02-01."));
    }

    #[test]
    fn workout_detail_without_an_id_adds_nothing() {
        let ctx = ChatContext { current_page: Some("workout_detail".into()), ..Default::default() };
        assert_eq!(system_prompt(Some(&ctx), &[]), BASE_PROMPT);
    }
}
