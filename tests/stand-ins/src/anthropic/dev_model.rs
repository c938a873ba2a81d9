//! The deterministic scripted "model" of the offline dev stack (`make run`). It reads the request
//! like Claude would: a user message with text picks tools by keyword among the tools offered
//! (several keywords → parallel calls), tool results get a short summary, anything else a canned
//! coaching answer. Every text starts with `[stand-in model]` so nobody mistakes it for Claude.

use serde_json::{Map, Value, json};

use super::reply::{Reply, Split};

/// The marker that starts every text the dev model writes.
pub const STAND_IN_LABEL: &str = "[stand-in model]";

/// The reply to a request body (already validated).
pub(crate) fn respond(body: &Value) -> Reply {
    let offered: Vec<&str> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| tools.iter().filter_map(|t| t.get("name").and_then(Value::as_str)).collect())
        .unwrap_or_default();
    let messages = body.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let Some(last) = messages.last() else {
        return canned_reply("");
    };
    let blocks = blocks_of(last);
    let results: Vec<&Value> = blocks.iter().copied().filter(|b| kind(b) == "tool_result").collect();
    if !results.is_empty() {
        return summary_reply(messages, &results);
    }
    let text: String = blocks.iter().filter(|b| kind(b) == "text").filter_map(|b| b.get("text")?.as_str()).collect();
    let calls = pick_tools(&text, &offered, messages);
    if calls.is_empty() {
        return canned_reply(&text);
    }
    let names: Vec<&str> = calls.iter().map(|(name, _)| name.as_str()).collect();
    let mut reply = Reply::text(format!("{STAND_IN_LABEL} Let me use {} for that.", names.join(" and ")))
        .text_split(Split::Every(6));
    for (i, (name, input)) in calls.iter().enumerate() {
        let input_json = if input.as_object().is_some_and(Map::is_empty) { String::new() } else { input.to_string() };
        reply = reply.and_tool_use(format!("toolu_standin_{:02}_{}", i + 1, super::new_id("")), name, input_json);
    }
    reply
}

fn blocks_of(message: &Value) -> Vec<&Value> {
    match message.get("content") {
        Some(Value::Array(blocks)) => blocks.iter().collect(),
        Some(text @ Value::String(_)) => vec![text],
        _ => Vec::new(),
    }
}

/// A block's type; a plain string content counts as text.
fn kind(block: &Value) -> &str {
    if block.is_string() { "text" } else { block.get("type").and_then(Value::as_str).unwrap_or_default() }
}

/// The tool calls a message asks for, in a fixed order, only among the tools offered.
fn pick_tools(text: &str, offered: &[&str], messages: &[Value]) -> Vec<(String, Value)> {
    let lower = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let offer = |name: &str| offered.contains(&name).then(|| name.to_string());
    let mut calls: Vec<(String, Value)> = Vec::new();
    let mut call = |name: Option<String>, input: Value| {
        if let Some(name) = name
            && !calls.iter().any(|(n, _)| *n == name)
        {
            calls.push((name, input));
        }
    };

    let navigating = has(&["go to", "open ", "navigate", "take me"]);
    if let Some(url) = text.split_whitespace().find(|w| w.starts_with("http://") || w.starts_with("https://")) {
        let url = url.trim_end_matches(['.', ',', ')', '!', '?']);
        let specific = [
            (["youtube.com", "youtu.be"].as_slice(), "import_from_youtube"),
            (["tiktok.com"].as_slice(), "import_from_tiktok"),
            (["instagram.com"].as_slice(), "import_from_instagram"),
            (["pinterest."].as_slice(), "import_from_pinterest"),
        ]
        .into_iter()
        .find(|(hosts, _)| hosts.iter().any(|h| url.contains(h)))
        .and_then(|(_, tool)| offer(tool));
        call(specific.or_else(|| offer("import_workout_from_url")), json!({"url": url}));
    }
    if has(&["yes", "save", "confirm", "looks good"]) {
        if let Some(preview_id) = latest_result_field(messages, "preview_id") {
            call(offer("save_and_push_workout"), json!({"preview_id": preview_id}));
        } else if let Some(source_url) = latest_result_field(messages, "source_url") {
            call(offer("save_imported_workout"), json!({"source_url": source_url}));
        }
    }
    if has(&["generate", "create a workout", "make me a workout", "build me a workout", "design a workout"]) {
        let tool = offer("generate_workout").or_else(|| offer("generate_ai_workout"));
        call(tool, json!({"description": text.trim()}));
    }
    if has(&["search", "find", "look for", "looking for"]) {
        call(offer("search_workout_library"), json!({"query": search_query(text)}));
    }
    if has(&["history", "completed", "what did i do", "past workouts"]) {
        call(offer("get_workout_history"), json!({"limit": 10}));
    }
    let calendar_asked = has(&["schedule", "calendar", "add it to my", "plan for"]);
    if calendar_asked && (!navigating || has(&["schedule"])) {
        let today = chrono::Utc::now().date_naive();
        match (workout_id_in(text), has(&["schedule", "add"])) {
            (Some(workout_id), true) => {
                let date = date_in(text).unwrap_or_else(|| (today + chrono::Days::new(1)).to_string());
                call(offer("add_workout_to_calendar"), json!({"workout_id": workout_id, "date": date}));
            }
            _ => {
                let end = today + chrono::Days::new(7);
                let input = json!({"start_date": today.to_string(), "end_date": end.to_string()});
                call(offer("get_calendar_events"), input);
            }
        }
    }
    if has(&["strava"]) {
        call(offer("get_strava_activities"), json!({}));
    }
    if navigating {
        let page =
            ["library", "calendar", "settings", "home"].into_iter().find(|p| lower.contains(p)).unwrap_or("home");
        call(offer("navigate_to_page"), json!({"page": page}));
    }
    calls
}

/// The words after the search keyword ("find me leg workouts" → "leg workouts").
fn search_query(text: &str) -> String {
    let lower = text.to_lowercase();
    let after = ["search for", "look for", "looking for", "search", "find"]
        .iter()
        .find_map(|k| lower.find(k).map(|at| at + k.len()))
        .map(|at| text[at..].trim())
        .unwrap_or(text.trim());
    let mut query = after;
    for filler in ["me ", "my ", "for ", "some ", "a "] {
        query = query.strip_prefix(filler).unwrap_or(query);
    }
    let query = query.trim_end_matches(['.', '!', '?']).trim();
    let query = if query.is_empty() { text.trim() } else { query };
    query.chars().take(100).collect()
}

/// A token that looks like a workout id: a UUID, or `w…`/`workout_…` with digits.
fn workout_id_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .find(|w| {
            uuid::Uuid::parse_str(w).is_ok()
                || ((w.starts_with('w') || w.starts_with("workout_"))
                    && w.chars().any(|c| c.is_ascii_digit())
                    && w.len() <= 64)
        })
        .map(str::to_string)
}

/// A `YYYY-MM-DD` date in the text.
fn date_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .find(|w| chrono::NaiveDate::parse_from_str(w, "%Y-%m-%d").is_ok())
        .map(str::to_string)
}

/// The newest value of `field` in any JSON tool result of the conversation.
fn latest_result_field(messages: &[Value], field: &str) -> Option<String> {
    messages.iter().rev().flat_map(blocks_of).filter(|b| kind(b) == "tool_result").find_map(|b| {
        let content: Value = serde_json::from_str(b.get("content")?.as_str()?).ok()?;
        content.get(field)?.as_str().map(str::to_string)
    })
}

/// A short deterministic summary of the tool results of the last user message.
fn summary_reply(messages: &[Value], results: &[&Value]) -> Reply {
    let names: Map<String, Value> = messages
        .iter()
        .flat_map(blocks_of)
        .filter(|b| kind(b) == "tool_use")
        .filter_map(|b| Some((b.get("id")?.as_str()?.to_string(), b.get("name")?.clone())))
        .collect();
    let mut text = format!("{STAND_IN_LABEL} Here is what the tools returned:");
    for result in results {
        let id = result.get("tool_use_id").and_then(Value::as_str).unwrap_or_default();
        let name = names.get(id).and_then(Value::as_str).unwrap_or("a tool");
        let content = match result.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let failed = result.get("is_error").and_then(Value::as_bool).unwrap_or(false);
        let verdict = if failed { "failed" } else { "returned" };
        text.push_str(&format!("\n- {name} {verdict}: {}", describe_result(&content)));
    }
    text.push_str("\nWhat would you like to do next?");
    Reply::text(text).text_split(Split::Every(12))
}

/// One line about a tool result: a count of workouts when it has a list, else its first words.
fn describe_result(content: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(content) {
        if let Some(workouts) = value.get("workouts").and_then(Value::as_array) {
            let titles: Vec<&str> =
                workouts.iter().filter_map(|w| w.get("title").and_then(Value::as_str)).take(3).collect();
            return format!("{} workout(s){}", workouts.len(), list_suffix(&titles));
        }
        if let Some(message) = value.get("message").and_then(Value::as_str) {
            return one_line(message);
        }
    }
    one_line(content)
}

fn list_suffix(titles: &[&str]) -> String {
    if titles.is_empty() { String::new() } else { format!(" ({})", titles.join(", ")) }
}

fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = flat.chars().take(160).collect();
    if short.len() < flat.len() { format!("{short}…") } else { short }
}

/// The answers when no tool fits; the choice depends only on the message text.
const CANNED: [&str; 4] = [
    "Great question! For steady progress, aim for three or four sessions a week, add a little load or a \
     rep when the last set feels easy, and keep one rest day between hard sessions for the same muscles.",
    "Consistency beats intensity. Start each session with five minutes of easy movement, keep form \
     strict on every rep, and stop a set when your technique starts to slip.",
    "Recovery is part of training: sleep seven to nine hours, eat enough protein, and plan an easier \
     week every four to six weeks.",
    "I can search your library, build a workout, schedule it, or show your history. Try \"find me a \
     30-minute leg workout\" or \"generate a full-body workout\".",
];

fn canned_reply(text: &str) -> Reply {
    let pick = text.bytes().map(usize::from).sum::<usize>() % CANNED.len();
    Reply::text(format!("{STAND_IN_LABEL} {} (This is the offline stand-in, not Claude.)", CANNED[pick]))
        .text_split(Split::Every(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOLS: [&str; 8] = [
        "search_workout_library",
        "get_workout_history",
        "generate_workout",
        "navigate_to_page",
        "get_calendar_events",
        "add_workout_to_calendar",
        "get_strava_activities",
        "save_and_push_workout",
    ];

    fn picks(text: &str) -> Vec<(String, Value)> {
        pick_tools(text, &TOOLS, &[])
    }

    #[test]
    fn keywords_pick_offered_tools_with_inputs() {
        assert_eq!(
            picks("Find me leg workouts!"),
            [("search_workout_library".into(), json!({"query":"leg workouts"}))]
        );
        let both = picks("search for core and show my history");
        assert_eq!(
            both.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["search_workout_library", "get_workout_history"]
        );
        assert_eq!(picks("open the calendar"), [("navigate_to_page".into(), json!({"page":"calendar"}))]);
        assert_eq!(picks("what's on my strava"), [("get_strava_activities".into(), json!({}))]);
        let scheduled = picks("schedule workout w123 on 2030-01-02");
        assert_eq!(scheduled, [("add_workout_to_calendar".into(), json!({"workout_id":"w123","date":"2030-01-02"}))]);
        assert_eq!(picks("what is on my calendar")[0].0, "get_calendar_events");
        assert!(picks("how do I squat deeper?").is_empty());
        assert!(pick_tools("find legs", &["navigate_to_page"], &[]).is_empty());
    }

    #[test]
    fn a_confirmation_saves_the_latest_preview() {
        let messages = vec![json!({"role":"user","content":[
            {"type":"tool_result","tool_use_id":"t","content":"{\"type\":\"workout_generated\",\"preview_id\":\"p-1\"}"}]})];
        assert_eq!(
            pick_tools("yes, save it", &TOOLS, &messages),
            [("save_and_push_workout".into(), json!({"preview_id":"p-1"}))]
        );
    }

    #[test]
    fn results_are_summarised_by_tool_name() {
        let messages = vec![
            json!({"role":"user","content":"find legs"}),
            json!({"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"search_workout_library","input":{}}]}),
            json!({"role":"user","content":[{"type":"tool_result","tool_use_id":"t1",
                "content":"{\"type\":\"search_results\",\"workouts\":[{\"title\":\"Leg Day\"}]}"}]}),
        ];
        let results: Vec<&Value> = vec![&messages[2]["content"][0]];
        let reply = summary_reply(&messages, &results);
        let super::super::reply::ReplyBody::Message(script) = &reply.body else { panic!() };
        let super::super::reply::ScriptBlock::Text(text) = &script.blocks[0] else { panic!() };
        assert!(text.starts_with(STAND_IN_LABEL));
        assert!(text.contains("search_workout_library returned: 1 workout(s) (Leg Day)"), "{text}");
    }
}
