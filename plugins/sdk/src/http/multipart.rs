//! `multipart/form-data` bodies (the ingestor's image upload takes one).

/// A form of text fields and files.
#[derive(Clone, Debug, Default)]
pub struct Multipart {
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

impl Multipart {
    pub fn new() -> Multipart {
        Multipart::default()
    }

    /// A text field.
    pub fn text(mut self, name: &str, value: &str) -> Multipart {
        self.parts.push(Part {
            name: name.into(),
            filename: None,
            content_type: None,
            data: value.as_bytes().to_vec(),
        });
        self
    }

    /// A file field.
    pub fn file(mut self, name: &str, filename: &str, content_type: &str, data: Vec<u8>) -> Multipart {
        self.parts.push(Part {
            name: name.into(),
            filename: Some(filename.into()),
            content_type: Some(content_type.into()),
            data,
        });
        self
    }

    /// The `Content-Type` header value and the encoded body.
    pub(crate) fn encode(&self) -> (String, Vec<u8>) {
        let boundary = self.boundary();
        let mut body = Vec::new();
        for part in &self.parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", quote(&part.name));
            if let Some(filename) = &part.filename {
                disposition.push_str(&format!("; filename=\"{}\"", quote(filename)));
            }
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(b"\r\n");
            if let Some(content_type) = &part.content_type {
                body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&part.data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }

    /// A boundary that occurs in no part (deterministic: derived from the content).
    fn boundary(&self) -> String {
        let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
        for part in &self.parts {
            for byte in part.name.bytes().chain(part.data.iter().copied().take(4096)) {
                seed = (seed ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        loop {
            let candidate = format!("amakaflow-{seed:016x}");
            let needle = candidate.as_bytes();
            if !self.parts.iter().any(|p| p.data.windows(needle.len()).any(|w| w == needle)) {
                return candidate;
            }
            seed = seed.wrapping_mul(0x0100_0000_01b3).wrapping_add(1);
        }
    }
}

fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_fields_and_files() {
        let (content_type, body) = Multipart::new()
            .text("vision_provider", "openai")
            .file("file", "photo.jpg", "image/jpeg", vec![1, 2, 3])
            .encode();
        let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"vision_provider\"\r\n\r\nopenai\r\n"
        )));
        assert!(
            text.contains(
                "name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\u{1}\u{2}\u{3}\r\n"
            )
        );
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
