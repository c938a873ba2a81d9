//! `import_from_image`: a base64 image of at most 10 MB (decoded), posted to the ingestor's vision
//! endpoint as a multipart form (`file`, `vision_provider=openai`, `vision_model=gpt-4o-mini`). The
//! extracted workout is also kept for 15 minutes under its source `uploaded:<filename>`, so
//! `save_imported_workout` can save it (there is no URL the ingestor could fetch it again from).

use amakaflow_tool_sdk::compat::{PyJson, required_text};
use amakaflow_tool_sdk::http::Multipart;
use amakaflow_tool_sdk::prelude::*;

use crate::{PREVIEW_TTL, ingestion};

/// The largest image accepted, decoded.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// The largest base64 text looked at (the original's `int(MAX_IMAGE_SIZE_BYTES * 1.4)`).
const MAX_ENCODED_CHARS: usize = MAX_IMAGE_BYTES * 14 / 10;

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// The image, base64-encoded
    image_data: String,
    /// Original file name (optional; tells the image format)
    filename: Option<String>,
}

/// The state key of an image import, by its source (`uploaded:<filename>`).
pub fn key(source_url: &str) -> String {
    format!("import:{source_url}")
}

/// Python's `base64.b64decode` (not strict): characters outside the alphabet are dropped, then the
/// padding must be right.
fn b64decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let mut data = Vec::with_capacity(text.len());
    let mut padding = 0;
    for c in text.bytes() {
        match (c, value(c)) {
            (b'=', _) => padding += 1,
            (_, Some(v)) if padding == 0 => data.push(v),
            // Data after padding ends the input, as binascii does.
            (_, Some(_)) => break,
            (_, None) => {}
        }
    }
    match data.len() % 4 {
        1 => return None,
        2 if padding < 2 => return None,
        3 if padding < 1 => return None,
        _ => {}
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for chunk in data.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, v)| n | (u32::from(*v) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    Some(out)
}

fn content_type(filename: &str) -> &'static str {
    let lower = filename.to_lowercase();
    if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".webp") {
        "image/webp"
    } else if lower.ends_with(".gif") {
        "image/gif"
    } else {
        "image/jpeg"
    }
}

/// The original's messages for a failed upload.
fn upload_error(err: HttpError) -> ToolError {
    match err {
        HttpError::Timeout => ToolError::execution("Image processing is taking too long. Please try again."),
        HttpError::Status { status: 401, .. } => {
            ToolError::execution("Authentication error. Please try logging in again.")
        }
        HttpError::Status { status, .. } => ToolError::execution(format!("Image processing failed ({status})")),
        HttpError::Decode(_) | HttpError::TooLarge => ToolError::from(err),
        _ => ToolError::execution("Unable to connect to the image processing service."),
    }
}

pub fn import_from_image(_ctx: &Context, args: Args) -> Result<PyJson, ToolError> {
    let image_data = required_text(args.image_data, "image_data")?;
    let too_large = || ToolError::validation("Image too large. Maximum size is 10MB.");
    if image_data.chars().count() > MAX_ENCODED_CHARS {
        return Err(too_large());
    }
    let filename = args.filename.unwrap_or_else(|| "workout_image.jpg".to_string());
    let image = b64decode(&image_data).ok_or_else(|| ToolError::validation("Invalid base64 image data"))?;
    drop(image_data);
    if image.len() > MAX_IMAGE_BYTES {
        return Err(too_large());
    }
    let form = Multipart::new().text("vision_provider", "openai").text("vision_model", "gpt-4o-mini").file(
        "file",
        &filename,
        content_type(&filename),
        image,
    );
    let result: Value = http::post(format!("{}/ingest/image_vision", crate::ingestor_url()?))
        .multipart(form)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .map_err(upload_error)?;
    let source_url = format!("uploaded:{filename}");
    if let Some(workout) = ingestion::workout_data(&result) {
        state::put_json(&key(&source_url), &workout, PREVIEW_TTL)?;
    }
    ingestion::preview(&result, "image", &source_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_as_python_does() {
        assert_eq!(b64decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(b64decode("aGVs\nbG8=").unwrap(), b"hello");
        assert_eq!(b64decode("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(b64decode("aGk=").unwrap(), b"hi");
        assert_eq!(b64decode("").unwrap(), b"");
        assert!(b64decode("aGVsbG8").is_none(), "missing padding");
        assert!(b64decode("a").is_none());
        assert!(b64decode("aGk").is_none());
    }
}
