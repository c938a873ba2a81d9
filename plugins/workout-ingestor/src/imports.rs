//! The URL imports: `import_from_youtube`, `…_tiktok`, `…_instagram`, `…_pinterest` (a board can
//! give several workouts) and `import_workout_from_url`, which recognises the platform and hands
//! over to the matching one. Each checks the URL's domain, posts it to the platform's ingestor
//! endpoint and returns the preview.

use amakaflow_tool_sdk::prelude::*;
use schemars::{Schema, json_schema};

use crate::ingestion;
use crate::platforms::{self, Platform};

#[derive(Deserialize)]
pub struct Args {
    url: Option<String>,
    skip_cache: Option<Value>,
    mode: Option<Value>,
}

fn url_schema(description: &str) -> Schema {
    json_schema!({
        "type": "object",
        "properties": {"url": {"type": "string", "description": description}},
        "required": ["url"]
    })
}

pub fn youtube_schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "YouTube video URL"},
            "skip_cache": {"type": "boolean", "description": "Extract again instead of using the cache (default: false)"}
        },
        "required": ["url"]
    })
}

pub fn tiktok_schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "TikTok video URL"},
            "mode": {
                "type": "string",
                "enum": ["oembed", "auto", "hybrid"],
                "description": "How to extract: 'oembed' metadata only, 'auto' audio first with vision as fallback \
                                (default), 'hybrid' both"
            }
        },
        "required": ["url"]
    })
}

pub fn instagram_schema() -> Schema {
    url_schema("Instagram post URL")
}

pub fn pinterest_schema() -> Schema {
    url_schema("Pinterest pin or board URL")
}

pub fn any_url_schema() -> Schema {
    url_schema("The URL to import from (YouTube, TikTok, Instagram or Pinterest)")
}

/// Checks the URL, posts it with `extra` body fields to the platform's endpoint; the ingestor's answer.
fn ingest(platform: Platform, url: Option<&str>, extra: Value) -> Result<(String, Value), ToolError> {
    let url = platforms::validate(url, platform).map_err(ToolError::validation)?;
    let mut body = json!({"url": url});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    let result: Value =
        http::post(format!("{}{}", crate::ingestor_url()?, platform.endpoint())).json(&body).send_json()?;
    Ok((url, result))
}

pub fn import_from_youtube(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let extra =
        if args.skip_cache.as_ref().is_some_and(pyfmt::truthy) { json!({"skip_cache": true}) } else { json!({}) };
    let (url, result) = ingest(Platform::YouTube, args.url.as_deref(), extra)?;
    ingestion::preview(&result, Platform::YouTube.source_label(), &url)
}

pub fn import_from_tiktok(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let mode = args.mode.unwrap_or(json!("auto"));
    let (url, result) = ingest(Platform::TikTok, args.url.as_deref(), json!({"mode": mode}))?;
    ingestion::preview(&result, Platform::TikTok.source_label(), &url)
}

pub fn import_from_instagram(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let (url, result) = ingest(Platform::Instagram, args.url.as_deref(), json!({}))?;
    ingestion::preview(&result, Platform::Instagram.source_label(), &url)
}

pub fn import_from_pinterest(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let (url, result) = ingest(Platform::Pinterest, args.url.as_deref(), json!({}))?;
    // A board: several workouts, each to be confirmed on its own.
    if let Some(workouts) = result.get("workouts") {
        let list = workouts.as_array().cloned().unwrap_or_default();
        let total = get_or(&result, "total", json!(list.len()));
        let items: Vec<Value> = list
            .iter()
            .map(|w| json!({"title": get_or(w, "title", json!("Untitled")), "full_workout_data": w}))
            .collect();
        return Ok(PyJson(json!({
            "success": true,
            "preview_mode": true,
            "persisted": false,
            "multiple_workouts": true,
            "total": total,
            "source_url": url,
            "workouts": items,
            "next_step": "Present these workouts to the user and ask which ones they want to save. Call \
                          save_imported_workout for each workout they confirm.",
        })));
    }
    ingestion::preview(&result, Platform::Pinterest.source_label(), &url)
}

pub fn import_workout_from_url(ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let url = args
        .url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ToolError::validation("Missing required field: url"))?;
    match platforms::detect(&url) {
        Some(Platform::YouTube) => import_from_youtube(ctx, args),
        Some(Platform::TikTok) => import_from_tiktok(ctx, args),
        Some(Platform::Instagram) => import_from_instagram(ctx, args),
        Some(Platform::Pinterest) => import_from_pinterest(ctx, args),
        None => {
            Err(ToolError::validation("Unsupported URL. Supported platforms: YouTube, TikTok, Instagram, Pinterest."))
        }
    }
}
