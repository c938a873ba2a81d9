//! `search_workout_library`: finds the user's workouts matching a natural-language query.
//!
//! When the user has indexed workouts, the query is embedded (OpenAI embeddings, the key added by
//! the host's egress rule) and the closest workouts come from the host's index of the calling user
//! (`search-workouts`), which never holds anyone else's. When nothing is indexed, the embedding or
//! the search fails, or no workout is similar enough, mapper-api's keyword search answers
//! (`GET /workouts/search?q=&limit=`), as the original did (semantic, else keyword). Either way the
//! result is the original `search_results` JSON.

mod embed;

use std::time::Duration;

use amakaflow_tool_sdk::compat::{PyJson, get_or};
use amakaflow_tool_sdk::prelude::*;

/// The most results one search returns (the original's cap).
const MAX_RESULTS: i64 = 10;

#[derive(Deserialize, JsonSchema)]
struct Args {
    /// What to look for, in natural language (e.g., 'leg workouts', 'quick cardio')
    query: String,
    /// How many results at most (default: 5)
    limit: Option<i64>,
}

/// One result as the original listed it.
fn listed(workout_id: Value, title: Value, source: &Value) -> Value {
    json!({
        "workout_id": workout_id,
        "title": title,
        "exercise_count": get_or(source, "exercise_count", Value::Null),
        "duration_minutes": get_or(source, "duration_minutes", Value::Null),
        "difficulty": get_or(source, "difficulty", Value::Null),
    })
}

/// The semantic answer, or why there is none (then the keyword search answers).
fn semantic(query: &str, limit: u32) -> Result<Vec<Value>, String> {
    if index::count() == 0 {
        return Err("no indexed workouts".to_string());
    }
    let timeout = config::get("embedding_timeout_seconds").and_then(|s| s.parse::<f64>().ok()).unwrap_or(10.0);
    let embedding = embed::query_embedding(query, Duration::from_secs_f64(timeout.max(0.1)))?;
    let min_similarity = config::get("min_similarity").and_then(|s| s.parse::<f32>().ok()).unwrap_or(0.5);
    let matches = index::search(&embedding, limit, min_similarity).map_err(|err| err.message)?;
    if matches.is_empty() {
        // As mapper-api: no semantic match above the threshold, so the keyword (ILIKE) search may
        // still find a title or description that contains the words.
        return Err(format!("no semantic match above similarity {min_similarity}"));
    }
    Ok(matches.into_iter().map(|m| listed(json!(m.workout_id), json!(m.title), &Value::Null)).collect())
}

/// mapper-api's keyword search.
fn keyword(query: &str, limit: i64) -> Result<Vec<Value>, ToolError> {
    let result: Value = http::get(format!("{}/workouts/search", config::required("mapper_url")?))
        .query(&[("q", query), ("limit", &limit.to_string())])
        .send_json()?;
    let results = get_or(&result, "results", json!([])).as_array().cloned().unwrap_or_default();
    Ok(results
        .iter()
        .take(limit as usize)
        .map(|w| listed(get_or(w, "workout_id", json!("unknown")), get_or(w, "title", json!("Untitled")), w))
        .collect())
}

fn search_workout_library(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let query = args.query;
    let limit = args.limit.unwrap_or(5).clamp(1, MAX_RESULTS);
    let workouts = match semantic(&query, limit as u32) {
        Ok(workouts) => workouts,
        Err(why) => {
            log::info(&format!("keyword search instead of semantic search: {why}"));
            keyword(&query, limit)?
        }
    };
    Ok(PyJson(json!({"type": "search_results", "workouts": workouts})))
}

fn plugin() -> Plugin {
    Plugin::new().function(
        "search_workout_library",
        "Search the user's workout library in natural language. Returns the matching workouts with the IDs \
         used to schedule them.",
        search_workout_library,
    )
}

amakaflow_tool_sdk::export_plugin!(plugin);

#[cfg(test)]
mod tests {
    use amakaflow_tool_sdk::testing::assert_schemas_match;

    #[test]
    fn derived_schemas_are_the_original_ones() {
        assert_schemas_match(&super::plugin(), concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas"));
    }
}
