//! The query's embedding from the OpenAI embeddings API (`POST /v1/embeddings`, floats requested
//! explicitly, the vector taken by its `index`). The API key is not here: the host's egress rule for
//! this origin adds it to the request.

use std::time::Duration;

use amakaflow_tool_sdk::prelude::*;

/// The embedding of `query`, or why there is none.
pub fn query_embedding(query: &str, timeout: Duration) -> Result<Vec<f32>, String> {
    let base = config::get("openai_url").ok_or("openai_url is not configured")?;
    let base = base.trim_end_matches('/');
    let url = if base.ends_with("/v1") { format!("{base}/embeddings") } else { format!("{base}/v1/embeddings") };
    let model = config::get("embedding_model").unwrap_or_else(|| "text-embedding-3-small".to_string());
    let response: Value = http::post(url)
        .json(&json!({"model": model, "input": query, "encoding_format": "float"}))
        .timeout(timeout)
        .send_json()
        .map_err(|err| format!("embedding request failed: {err}"))?;
    let item = response
        .get("data")
        .and_then(Value::as_array)
        .and_then(|data| data.iter().find(|item| item.get("index").and_then(Value::as_u64) == Some(0)))
        .ok_or("embedding response has no data[index=0]")?;
    let vector: Vec<f32> = item
        .get("embedding")
        .and_then(Value::as_array)
        .ok_or("embedding is not a list of numbers")?
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect::<Option<_>>()
        .ok_or("embedding is not a list of numbers")?;
    if vector.is_empty() {
        return Err("empty embedding".to_string());
    }
    Ok(vector)
}
