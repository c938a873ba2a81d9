//! A stand-in for the OpenAI embeddings API (`POST /v1/embeddings`) and, for the fallback of chat
//! turns, streaming Chat Completions (`POST /v1/chat/completions`, [`crate::openai_chat`]), served over real HTTP on
//! 127.0.0.1. It speaks the real wire format: bearer-key auth with OpenAI's error bodies, string or
//! list input with OpenAI's limits, `encoding_format` `float` or `base64`, results carrying `index`.
//!
//! Vectors are deterministic and meaningful: a hashed bag of words, normalised, so texts sharing
//! words are similar ([`embed_text`] gives tests the same vector). Failures are scriptable per test
//! ([`OpenAiStandIn::fail_next`]): rate limits with `Retry-After`, server errors, malformed bodies,
//! delays. It runs on the shared [`RecordingServer`], so every request is recorded; the embeddings
//! view of one is [`RecordedRequest::embedding_inputs`]. The dev stack (`make run`) uses it too, as
//! a labelled stand-in.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::openai_chat::{self, ChatReply};
use crate::recording_server::{RecordedRequest, RecordingServer, runs_on_recording_server};

/// The dimension of `text-embedding-3-small`.
pub const DEFAULT_DIMS: usize = 1536;
/// The key the stand-in accepts unless told otherwise.
pub const DEFAULT_KEY: &str = "sk-standin-embeddings-key";

/// A scripted answer for the next request(s).
#[derive(Clone, Debug)]
pub enum Failure {
    /// 429 with OpenAI's rate-limit body, and `Retry-After` in seconds when given.
    RateLimited { retry_after: Option<u64> },
    /// This status with OpenAI's error body (`500`, `503`, `400`, …).
    Status(u16),
    /// 200 with a body that is not an embeddings list.
    Malformed,
    /// 200 with one embedding fewer than inputs.
    MissingItem,
    /// Answers normally after this long (for timeouts).
    Delay(Duration),
}

/// The embeddings API's reading of a recorded request.
impl RecordedRequest {
    /// The texts to embed (`input` as a string or a list of strings); empty when there are none.
    pub fn embedding_inputs(&self) -> Vec<String> {
        inputs_of(&self.json()).unwrap_or_default()
    }
}

/// `input` as a list of texts; `None` when it is neither a string nor a list of strings.
fn inputs_of(body: &Value) -> Option<Vec<String>> {
    match body.get("input") {
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(items)) => items.iter().map(|i| i.as_str().map(str::to_string)).collect(),
        _ => None,
    }
}

struct Shared {
    key: String,
    dims: usize,
    /// Answer with `data` in reverse order (clients must map by `index`).
    reversed: bool,
    script: VecDeque<Failure>,
    /// Answers of `/v1/chat/completions`, in order (see [`crate::openai_chat`]).
    chat: VecDeque<ChatReply>,
}

/// A running stand-in; stops when dropped.
///
/// It is a [`RecordingServer`] underneath and derefs to it: `url()` (the value of
/// `OPENAI_BASE_URL`), `requests()` and `clear_requests()` come from there.
pub struct OpenAiStandIn {
    server: RecordingServer,
    shared: Arc<Mutex<Shared>>,
}

runs_on_recording_server!(OpenAiStandIn);

impl OpenAiStandIn {
    /// Starts on 127.0.0.1 with 1536-dimensional vectors and [`DEFAULT_KEY`].
    pub async fn start() -> OpenAiStandIn {
        OpenAiStandIn::with_dims(DEFAULT_DIMS).await
    }

    pub async fn with_dims(dims: usize) -> OpenAiStandIn {
        let shared = Arc::new(Mutex::new(Shared {
            key: DEFAULT_KEY.to_string(),
            dims,
            reversed: true,
            script: VecDeque::new(),
            chat: VecDeque::new(),
        }));
        let answering = shared.clone();
        let server = RecordingServer::start(move |request| {
            let shared = answering.clone();
            async move {
                match (request.method.as_str(), request.path.as_str()) {
                    ("POST", "/v1/embeddings" | "/embeddings") => embeddings(&shared, &request).await,
                    ("POST", "/v1/chat/completions") => {
                        let (key, scripted) = {
                            let mut s = shared.lock();
                            (s.key.clone(), s.chat.pop_front())
                        };
                        openai_chat::respond(&request, &key, scripted).await
                    }
                    _ => StatusCode::NOT_FOUND.into_response(),
                }
            }
        })
        .await;
        OpenAiStandIn { server, shared }
    }

    /// The key requests must carry (`Authorization: Bearer <key>`).
    pub fn api_key(&self) -> String {
        self.shared.lock().key.clone()
    }

    pub fn dims(&self) -> usize {
        self.shared.lock().dims
    }

    /// The next `times` requests get `failure` (after any failures already queued).
    pub fn fail_next(&self, failure: Failure, times: usize) {
        let mut shared = self.shared.lock();
        shared.script.extend(std::iter::repeat_n(failure, times));
    }

    /// Queues the answer of a later Chat Completions request.
    pub fn push_chat(&self, reply: ChatReply) -> &OpenAiStandIn {
        self.shared.lock().chat.push_back(reply);
        self
    }

    /// The Chat Completions requests so far.
    pub fn chat_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.path == "/v1/chat/completions").collect()
    }

    /// Answers in input order instead of the default reversed order.
    pub fn in_order(&self) {
        self.shared.lock().reversed = false;
    }

    /// How many texts were embedded in total (inputs of successful and failed requests alike).
    pub fn input_count(&self) -> usize {
        self.requests().iter().map(|r| r.embedding_inputs().len()).sum()
    }
}

/// The stand-in's vector for `text`: every lower-cased alphanumeric word (and its first five letters,
/// a crude stem, so "legs" and "leg" meet) adds ±1 at a hashed position; the sum is normalised.
pub fn embed_text(text: &str, dims: usize) -> Vec<f32> {
    let mut vector = vec![0.0f32; dims.max(1)];
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let word = word.to_lowercase();
        let stem: String = word.chars().take(5).collect();
        for (feature, weight) in [(word.as_str(), 1.0f32), (stem.as_str(), 0.5)] {
            let digest = Sha256::digest(feature.as_bytes());
            let slot = u64::from_le_bytes(digest[..8].try_into().unwrap_or_default()) as usize % vector.len();
            let sign = if digest[8] & 1 == 0 { 1.0 } else { -1.0 };
            vector[slot] += sign * weight;
        }
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        // No words at all: a fixed direction, still a valid unit vector.
        vector[0] = 1.0;
    } else {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

fn openai_error(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, axum::Json(body)).into_response()
}

async fn embeddings(shared: &Mutex<Shared>, request: &RecordedRequest) -> Response {
    let authorization = request.header("authorization");
    let parsed: Option<Value> = serde_json::from_slice(&request.body).ok();
    let inputs = parsed.as_ref().and_then(inputs_of);
    let (key, dims, reversed, scripted) = {
        let mut s = shared.lock();
        (s.key.clone(), s.dims, s.reversed, s.script.pop_front())
    };

    if authorization != Some(format!("Bearer {key}").as_str()) {
        let shown = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(|k| format!("{}***{}", &k[..k.len().min(5)], &k[k.len().saturating_sub(3)..]))
            .unwrap_or_default();
        return openai_error(
            StatusCode::UNAUTHORIZED,
            &format!(
                "Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys."
            ),
            "invalid_request_error",
            Some("invalid_api_key"),
        );
    }
    match &scripted {
        Some(Failure::RateLimited { retry_after }) => {
            let mut response = openai_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached for text-embedding-3-small on requests per min (RPM): Limit 3000.",
                "requests",
                Some("rate_limit_exceeded"),
            );
            if let Some(seconds) = retry_after {
                response.headers_mut().insert("retry-after", seconds.to_string().parse().expect("header value"));
            }
            return response;
        }
        Some(Failure::Status(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return openai_error(
                status,
                "The server had an error while processing your request.",
                "server_error",
                None,
            );
        }
        Some(Failure::Malformed) => {
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"object\":\"list\",\"data\":[{\"index\":0,",
            )
                .into_response();
        }
        Some(Failure::Delay(duration)) => tokio::time::sleep(*duration).await,
        Some(Failure::MissingItem) | None => {}
    }

    let Some(body) = parsed else {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
        );
    };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "you must provide a model parameter",
            "invalid_request_error",
            None,
        );
    };
    let Some(inputs) = inputs else {
        return openai_error(StatusCode::BAD_REQUEST, "'$.input' is invalid.", "invalid_request_error", None);
    };
    if inputs.is_empty() || inputs.len() > 2048 || inputs.iter().any(|i| i.is_empty()) {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            "invalid_request_error",
            None,
        );
    }
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = embed_text(text, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    if matches!(scripted, Some(Failure::MissingItem)) {
        data.pop();
    }
    if reversed {
        data.reverse();
    }
    let tokens: usize = inputs.iter().map(|t| t.split_whitespace().count().max(1)).sum();
    axum::Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn texts_sharing_words_are_closer_than_unrelated_ones() {
        let legs = embed_text("Leg day: squats and lunges", 1536);
        let query = embed_text("leg workouts", 1536);
        let cardio = embed_text("Quick cardio intervals on the bike", 1536);
        assert!(cosine(&legs, &query) > cosine(&cardio, &query) + 0.1);
        assert!((cosine(&legs, &legs) - 1.0).abs() < 1e-5);
        assert_eq!(embed_text("same", 64), embed_text("same", 64));
    }
}
