//! Decoding of `multipart/form-data` bodies, so that a test can check each part of an upload (the
//! workout ingestor's image upload) by name, file name, content type and bytes.

/// One multipart form part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Splits a multipart body at `--boundary` lines; `None` when it is not well formed.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    let start = find(rest, &delimiter)?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&rest[..header_end]).into_owned();
        rest = &rest[header_end + 4..];
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        let data_end = find(rest, &closing)?;
        let data = rest[..data_end].to_vec();
        rest = &rest[data_end + closing.len()..];
        let (mut name, mut filename, mut content_type) = (String::new(), None, None);
        for line in headers.split("\r\n") {
            let (key, value) = line.split_once(':')?;
            match key.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for param in value.split(';').map(str::trim) {
                        if let Some(v) = param.strip_prefix("name=") {
                            name = v.trim_matches('"').to_string();
                        } else if let Some(v) = param.strip_prefix("filename=") {
                            filename = Some(v.trim_matches('"').to_string());
                        }
                    }
                }
                "content-type" => content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
        parts.push(Part { name, filename, content_type, data });
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multipart_bodies() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ\r\nContent-Disposition: form-data; name=\"vision_provider\"\r\n\r\nopenai\r\n--XyZ--\r\n";
        let parts = parse(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].filename.as_deref(), Some("w.png"));
        assert_eq!(parts[0].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[0].data, b"\x89PNG");
        assert_eq!((parts[1].name.as_str(), parts[1].data.as_slice()), ("vision_provider", b"openai".as_slice()));
        assert!(parse(b"garbage", "XyZ").is_none());
    }
}
