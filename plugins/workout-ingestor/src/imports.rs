//! The URL imports: `import_from_youtube`, `…_tiktok`, `…_instagram`, `…_pinterest` (a board can
//! give several workouts) and `import_workout_from_url`, which recognises the platform and hands
//! over to the matching one. Each checks the URL's domain, posts it to the platform's ingestor
//! endpoint and returns the preview.

use amakaflow_tool_sdk::compat::{PyJson, get_or, pyfmt};
use amakaflow_tool_sdk::prelude::*;

use crate::ingestion;
use crate::platforms::{self, Platform};

/// Arguments of `import_from_youtube`.
#[derive(Deserialize, JsonSchema)]
pub struct YouTubeArgs {
    /// YouTube video URL
    url: String,
    /// Extract again instead of using the cache (default: false)
    skip_cache: Option<bool>,
}

/// Arguments of `import_from_tiktok`.
#[derive(Deserialize, JsonSchema)]
pub struct TikTokArgs {
    /// TikTok video URL
    url: String,
    /// How to extract: 'oembed' metadata only, 'auto' audio first with vision as fallback (default), 'hybrid' both
    #[schemars(extend("enum" = ["oembed", "auto", "hybrid"]))]
    mode: Option<String>,
}

/// Arguments of `import_from_instagram`.
#[derive(Deserialize, JsonSchema)]
pub struct InstagramArgs {
    /// Instagram post URL
    url: String,
}

/// Arguments of `import_from_pinterest`.
#[derive(Deserialize, JsonSchema)]
pub struct PinterestArgs {
    /// Pinterest pin or board URL
    url: String,
}

/// Arguments of `import_workout_from_url`. The model is offered `url` only, but what else it
/// sends reaches the platform's import as in the original (its one dispatcher read `skip_cache`
/// and `mode` for every platform).
#[derive(Deserialize, JsonSchema)]
pub struct AnyUrlArgs {
    /// The URL to import from (YouTube, TikTok, Instagram or Pinterest)
    url: String,
    #[schemars(skip)]
    skip_cache: Option<Value>,
    #[schemars(skip)]
    mode: Option<Value>,
}

/// Checks the URL, posts it with `extra` body fields to the platform's endpoint; the ingestor's answer.
fn ingest(platform: Platform, url: &str, extra: Value) -> Result<(String, Value), ToolError> {
    let url = platforms::validate(Some(url), platform).map_err(ToolError::validation)?;
    let mut body = json!({"url": url});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    let result: Value =
        http::post(format!("{}{}", crate::ingestor_url()?, platform.endpoint())).json(&body).send_json()?;
    Ok((url, result))
}

pub fn import_from_youtube(_ctx: &Context, args: YouTubeArgs) -> Result<PyJson, ToolError> {
    youtube(&args.url, args.skip_cache.unwrap_or(false))
}

fn youtube(url: &str, skip_cache: bool) -> Result<PyJson, ToolError> {
    let extra = if skip_cache { json!({"skip_cache": true}) } else { json!({}) };
    let (url, result) = ingest(Platform::YouTube, url, extra)?;
    ingestion::preview(&result, Platform::YouTube.source_label(), &url)
}

pub fn import_from_tiktok(_ctx: &Context, args: TikTokArgs) -> Result<PyJson, ToolError> {
    tiktok(&args.url, json!(args.mode.unwrap_or_else(|| "auto".to_string())))
}

fn tiktok(url: &str, mode: Value) -> Result<PyJson, ToolError> {
    let (url, result) = ingest(Platform::TikTok, url, json!({"mode": mode}))?;
    ingestion::preview(&result, Platform::TikTok.source_label(), &url)
}

pub fn import_from_instagram(_ctx: &Context, args: InstagramArgs) -> Result<PyJson, ToolError> {
    instagram(&args.url)
}

fn instagram(url: &str) -> Result<PyJson, ToolError> {
    let (url, result) = ingest(Platform::Instagram, url, json!({}))?;
    ingestion::preview(&result, Platform::Instagram.source_label(), &url)
}

pub fn import_from_pinterest(_ctx: &Context, args: PinterestArgs) -> Result<PyJson, ToolError> {
    pinterest(&args.url)
}

fn pinterest(url: &str) -> Result<PyJson, ToolError> {
    let (url, result) = ingest(Platform::Pinterest, url, json!({}))?;
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

pub fn import_workout_from_url(_ctx: &Context, args: AnyUrlArgs) -> Result<PyJson, ToolError> {
    let url = args.url;
    if url.is_empty() {
        return Err(ToolError::validation("Missing required field: url"));
    }
    match platforms::detect(&url) {
        Some(Platform::YouTube) => youtube(&url, args.skip_cache.as_ref().is_some_and(pyfmt::truthy)),
        Some(Platform::TikTok) => tiktok(&url, args.mode.unwrap_or(json!("auto"))),
        Some(Platform::Instagram) => instagram(&url),
        Some(Platform::Pinterest) => pinterest(&url),
        None => {
            Err(ToolError::validation("Unsupported URL. Supported platforms: YouTube, TikTok, Instagram, Pinterest."))
        }
    }
}
