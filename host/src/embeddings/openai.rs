//! The OpenAI embeddings API over plain HTTP (`POST /v1/embeddings`), as the pipeline needs it:
//! inputs split into requests of at most `EMBEDDING_BATCH_SIZE` texts (and a byte budget that keeps a
//! request under OpenAI's per-request token limit), `encoding_format: "float"` requested explicitly,
//! results mapped back by `index`, retries with backoff on 429, 5xx and connection failures. The API
//! key is only ever put in the `Authorization` header (marked sensitive): it is never logged and never
//! part of an error message, even when OpenAI echoes it back.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use serde_json::json;

use crate::config::{OpenAiConfig, Secret};

/// OpenAI accepts at most 2048 inputs per request.
pub const MAX_INPUTS_PER_REQUEST: usize = 2048;
/// Bytes of input per request. A token covers at least one byte, so this keeps every request under
/// OpenAI's 300,000 tokens per request.
pub const MAX_BYTES_PER_REQUEST: usize = 300_000;
/// Inputs are cut to this many bytes (on a character boundary): about 6,000 tokens of English,
/// below the 8,192 tokens one input may have. The content hash is always of the whole text.
pub const MAX_INPUT_BYTES: usize = 24_000;

/// How failed requests are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for every further one.
    pub initial_backoff: Duration,
    /// Longest wait between attempts (also caps a server's `Retry-After`).
    pub max_backoff: Duration,
    /// Budget of one HTTP request.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Why an embeddings call failed. Every message is safe to log and to return to a caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmbeddingError {
    #[error("OpenAI API key not configured")]
    NotConfigured,
    #[error("OpenAI API key is not a valid HTTP header value")]
    InvalidKey,
    /// A 4xx other than 429: retrying would not help.
    #[error("OpenAI embeddings request rejected ({status}){}", detail_suffix(.detail))]
    Rejected { status: u16, detail: Option<String> },
    /// 429, 5xx or no connection, still failing after every attempt.
    #[error("OpenAI embeddings unavailable after {attempts} attempt(s): {last}")]
    Unavailable { attempts: u32, last: String },
    /// A 2xx whose body is not a usable embeddings list.
    #[error("OpenAI embeddings response malformed: {0}")]
    Malformed(String),
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
}

/// An embeddings client; cheap to clone.
#[derive(Clone, Debug)]
pub struct EmbeddingsClient {
    http: reqwest::Client,
    endpoint: String,
    api_key: Option<Secret>,
    model: String,
    batch_size: usize,
    retry: RetryPolicy,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

/// Outcome of one attempt.
enum Attempt {
    Done(Vec<Vec<f32>>),
    /// Worth another attempt, after at least this long (a server's `Retry-After`).
    Retry {
        why: String,
        wait: Option<Duration>,
    },
    Fail(EmbeddingError),
}

impl EmbeddingsClient {
    /// A client for `config` (`OPENAI_BASE_URL`, `EMBEDDING_MODEL`, `EMBEDDING_BATCH_SIZE`,
    /// `OPENAI_API_KEY`).
    pub fn new(http: reqwest::Client, config: &OpenAiConfig) -> EmbeddingsClient {
        let base = config.base_url.trim_end_matches('/');
        // `OPENAI_BASE_URL` may name the API root with or without `/v1` (the SDKs' convention has it).
        let endpoint =
            if base.ends_with("/v1") { format!("{base}/embeddings") } else { format!("{base}/v1/embeddings") };
        EmbeddingsClient {
            http,
            endpoint,
            api_key: config.api_key.clone(),
            model: config.embedding_model.clone(),
            batch_size: config.embedding_batch_size.clamp(1, MAX_INPUTS_PER_REQUEST),
            retry: RetryPolicy::default(),
        }
    }

    /// The same client with another retry policy (tests use short waits).
    pub fn with_retry(mut self, retry: RetryPolicy) -> EmbeddingsClient {
        self.retry = retry;
        self
    }

    pub fn is_configured(&self) -> bool {
        self.api_key.is_some()
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The embedding of every text, in order, in as many requests as the batch size and the byte
    /// budget require. Fails as a whole when any request fails.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for range in self.request_ranges(texts) {
            vectors.extend(self.embed_request(&texts[range]).await?);
        }
        Ok(vectors)
    }

    /// Splits `texts` into consecutive ranges of at most `batch_size` texts and
    /// [`MAX_BYTES_PER_REQUEST`] bytes (after truncation).
    fn request_ranges(&self, texts: &[String]) -> Vec<std::ops::Range<usize>> {
        let mut ranges = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for (i, text) in texts.iter().enumerate() {
            let size = truncate(text).len();
            if i > start && (i - start == self.batch_size || bytes + size > MAX_BYTES_PER_REQUEST) {
                ranges.push(start..i);
                start = i;
                bytes = 0;
            }
            bytes += size;
        }
        if start < texts.len() {
            ranges.push(start..texts.len());
        }
        ranges
    }

    /// One request, retried as the policy says.
    async fn embed_request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let key = self.api_key.as_ref().ok_or(EmbeddingError::NotConfigured)?;
        let body = json!({
            "model": self.model,
            "input": texts.iter().map(|t| truncate(t)).collect::<Vec<_>>(),
            "encoding_format": "float",
        });
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 1;
        loop {
            match self.attempt(key, &body, texts.len()).await {
                Attempt::Done(vectors) => return Ok(vectors),
                Attempt::Fail(err) => return Err(err),
                Attempt::Retry { why, wait } => {
                    if attempt >= self.retry.max_attempts {
                        return Err(EmbeddingError::Unavailable { attempts: attempt, last: why });
                    }
                    let wait = wait.unwrap_or(backoff).max(backoff).min(self.retry.max_backoff);
                    tracing::warn!(
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        reason = why,
                        "retrying OpenAI embeddings"
                    );
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(&self, key: &Secret, body: &serde_json::Value, expected: usize) -> Attempt {
        let mut auth = match HeaderValue::from_str(&format!("Bearer {}", key.expose())) {
            Ok(value) => value,
            Err(_) => return Attempt::Fail(EmbeddingError::InvalidKey),
        };
        auth.set_sensitive(true);
        let sent = self
            .http
            .post(&self.endpoint)
            .header(AUTHORIZATION, auth)
            .timeout(self.retry.request_timeout)
            .json(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => return Attempt::Retry { why: transport_reason(&err), wait: None },
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(err) => return Attempt::Retry { why: transport_reason(&err), wait: None },
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Attempt::Retry { why: format!("HTTP {}", status.as_u16()), wait: retry_after };
        }
        if !status.is_success() {
            let detail = error_detail(&bytes, self.api_key.as_ref().map(Secret::expose));
            return Attempt::Fail(EmbeddingError::Rejected { status: status.as_u16(), detail });
        }
        match parse_embeddings(&bytes, expected) {
            Ok(vectors) => Attempt::Done(vectors),
            Err(why) => Attempt::Fail(EmbeddingError::Malformed(why)),
        }
    }
}

/// `text` cut to [`MAX_INPUT_BYTES`] on a character boundary.
fn truncate(text: &str) -> &str {
    if text.len() <= MAX_INPUT_BYTES {
        return text;
    }
    let mut end = MAX_INPUT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A connection-level failure in words, without the URL (it names no secret, but says nothing useful).
fn transport_reason(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "connection failed".to_string()
    } else if err.is_body() || err.is_decode() {
        "response body interrupted".to_string()
    } else {
        "request failed".to_string()
    }
}

/// The `error.message` of an OpenAI error body, with anything that looks like a key removed (OpenAI
/// quotes part of a wrong key back).
fn error_detail(body: &[u8], key: Option<&str>) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = value.pointer("/error/message")?.as_str()?;
    Some(redact_keys(message, key).chars().take(300).collect())
}

fn redact_keys(message: &str, key: Option<&str>) -> String {
    let mut text = message.to_string();
    if let Some(key) = key.filter(|k| !k.is_empty()) {
        text = text.replace(key, "[redacted]");
    }
    text.split(' ')
        .map(|word| if word.starts_with("sk-") || word.contains("sk-") { "[redacted]" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The vectors of a response, in input order. Checks that every input has exactly one finite vector
/// of one common dimension.
fn parse_embeddings(body: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, String> {
    let response: EmbeddingsResponse =
        serde_json::from_slice(body).map_err(|e| format!("not an embeddings list ({e})"))?;
    if response.data.len() != expected {
        return Err(format!("{} embeddings for {expected} inputs", response.data.len()));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for item in response.data {
        let slot = slots.get_mut(item.index).ok_or_else(|| format!("index {} out of range", item.index))?;
        if slot.is_some() {
            return Err(format!("index {} repeated", item.index));
        }
        if item.embedding.is_empty() || item.embedding.iter().any(|x| !x.is_finite()) {
            return Err(format!("embedding {} is empty or not finite", item.index));
        }
        *slot = Some(item.embedding);
    }
    let vectors: Vec<Vec<f32>> = slots.into_iter().map(|v| v.unwrap_or_default()).collect();
    if let Some(first) = vectors.first()
        && vectors.iter().any(|v| v.len() != first.len())
    {
        return Err("embeddings of different dimensions".to_string());
    }
    Ok(vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(batch_size: usize) -> EmbeddingsClient {
        let config = OpenAiConfig {
            api_key: Some("sk-test".into()),
            base_url: "http://127.0.0.1:9".into(),
            embedding_model: "text-embedding-3-small".into(),
            embedding_batch_size: batch_size,
        };
        EmbeddingsClient::new(reqwest::Client::new(), &config)
    }

    #[test]
    fn splits_requests_by_count_and_bytes() {
        let texts: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
        assert_eq!(client(3).request_ranges(&texts), vec![0..3, 3..6, 6..7]);
        let big = "x".repeat(MAX_INPUT_BYTES);
        let texts = vec![big.clone(); 30];
        let ranges = client(100).request_ranges(&texts);
        assert!(ranges.iter().all(|r| r.len() * MAX_INPUT_BYTES <= MAX_BYTES_PER_REQUEST));
        assert_eq!(ranges.iter().map(|r| r.len()).sum::<usize>(), 30);
        assert!(client(5).request_ranges(&[]).is_empty());
    }

    #[test]
    fn endpoint_accepts_a_base_with_or_without_v1() {
        let mut config = OpenAiConfig {
            api_key: None,
            base_url: "https://api.openai.com".into(),
            embedding_model: "m".into(),
            embedding_batch_size: 100,
        };
        assert_eq!(
            EmbeddingsClient::new(reqwest::Client::new(), &config).endpoint,
            "https://api.openai.com/v1/embeddings"
        );
        config.base_url = "https://proxy.example/v1/".into();
        assert_eq!(
            EmbeddingsClient::new(reqwest::Client::new(), &config).endpoint,
            "https://proxy.example/v1/embeddings"
        );
    }

    #[test]
    fn maps_results_by_index() {
        let body = br#"{"object":"list","data":[{"index":1,"embedding":[0.0,1.0]},{"index":0,"embedding":[1.0,0.0]}]}"#;
        assert_eq!(parse_embeddings(body, 2).unwrap(), vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
    }

    #[test]
    fn refuses_malformed_lists() {
        let cases: [(&[u8], usize); 6] = [
            (b"not json", 1),
            (br#"{"data":[{"index":0,"embedding":[1.0]}]}"#, 2),
            (br#"{"data":[{"index":0,"embedding":[1.0]},{"index":0,"embedding":[1.0]}]}"#, 2),
            (br#"{"data":[{"index":5,"embedding":[1.0]}]}"#, 1),
            (br#"{"data":[{"index":0,"embedding":[]}]}"#, 1),
            (br#"{"data":[{"index":0,"embedding":[1.0]},{"index":1,"embedding":[1.0,2.0]}]}"#, 2),
        ];
        for (body, expected) in cases {
            assert!(parse_embeddings(body, expected).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn error_details_never_carry_a_key() {
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-abc***xyz. You can find your API key at https://platform.openai.com.","type":"invalid_request_error"}}"#;
        let detail = error_detail(body, Some("sk-abcdefxyz")).unwrap();
        assert!(!detail.contains("sk-"), "{detail}");
        assert_eq!(redact_keys("bad key secret-1 used", Some("secret-1")), "bad key [redacted] used");
    }

    #[test]
    fn truncates_on_a_character_boundary() {
        let text = "é".repeat(MAX_INPUT_BYTES);
        let cut = truncate(&text);
        assert!(cut.len() <= MAX_INPUT_BYTES && cut.len() >= MAX_INPUT_BYTES - 1);
        assert_eq!(truncate("short"), "short");
    }
}
