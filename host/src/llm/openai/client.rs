//! The Chat Completions client the fallback runs on: `POST {OPENAI_BASE_URL}/v1/chat/completions`
//! with `stream: true`, the key as a bearer token, the same stall timeout as Claude calls. It makes
//! one attempt (it is already the second provider); like the Anthropic client it hands back the
//! stream only once its first event arrived, so a failure before any output is an `Err`.

use std::time::Duration;

use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

use super::{request, stream};
use crate::config::Secret;
use crate::llm::client::read_capped;
use crate::llm::error::{LlmError, error_chain, truncate_chars};
use crate::llm::stream::MessageStream;
use crate::llm::types::MessagesRequest;

/// A cheap-to-clone handle to OpenAI's Chat Completions.
#[derive(Clone)]
pub struct OpenAiChatClient {
    http: reqwest::Client,
    url: String,
    headers: HeaderMap,
    model: String,
    stall_timeout: Duration,
    /// Never to appear in an error or a log line.
    secret: Option<String>,
}

impl std::fmt::Debug for OpenAiChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiChatClient").field("url", &self.url).field("model", &self.model).finish_non_exhaustive()
    }
}

impl OpenAiChatClient {
    pub fn new(
        base_url: &str,
        api_key: Option<&Secret>,
        model: &str,
        stall_timeout: Duration,
        http: reqwest::Client,
    ) -> OpenAiChatClient {
        let key = api_key.map(Secret::expose).map(str::trim).filter(|k| !k.is_empty());
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(http::header::ACCEPT, HeaderValue::from_static("text/event-stream"));
        if let Some(mut value) = key.and_then(|k| HeaderValue::from_str(&format!("Bearer {k}")).ok()) {
            value.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, value);
        }
        OpenAiChatClient {
            http,
            url: format!("{}/v1/chat/completions", base_url.trim_end_matches('/')),
            headers,
            model: model.to_string(),
            stall_timeout,
            secret: key.map(str::to_string),
        }
    }

    /// `OPENAI_CHAT_MODEL`.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Sends `req` translated to Chat Completions (on this client's model) and returns its events,
    /// in Anthropic's shape, once the first one arrived.
    pub async fn stream(&self, req: &MessagesRequest, user_id: &str) -> Result<MessageStream, LlmError> {
        let mut body = request::chat_body(req, &self.model);
        if !user_id.is_empty() {
            // OpenAI's abuse monitoring key: the user, never a secret.
            body["user"] = Value::String(user_id.to_string());
        }
        self.attempt(&body).await.map_err(|err| err.redacted(&[self.secret.as_deref().unwrap_or_default()]))
    }

    async fn attempt(&self, body: &Value) -> Result<MessageStream, LlmError> {
        let stall = self.stall_timeout;
        let send = self
            .http
            .post(&self.url)
            .headers(self.headers.clone())
            .headers(crate::telemetry::otel::trace_headers(&tracing::Span::current()))
            .json(body)
            .send();
        let failed = |message: String| LlmError::OpenAi { status: None, message };
        let response = match tokio::time::timeout(stall, send).await {
            Err(_elapsed) => return Err(failed("OpenAI sent nothing within the stall timeout".to_string())),
            Ok(Err(err)) => {
                return Err(failed(format!("connection to OpenAI failed: {}", error_chain(&err.without_url()))));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let request_id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        tracing::info!(openai_request_id = request_id.as_deref(), status = status.as_u16(), "openai responded");
        if !status.is_success() {
            let body = read_capped(response, stall).await;
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(LlmError::OpenAi { status: Some(status.as_u16()), message: truncate_chars(&message, 300) });
        }
        let content_type =
            response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        if !content_type.starts_with("text/event-stream") {
            return Err(failed(format!("expected an event stream, got content-type {content_type:?}")));
        }
        let mut events = stream::decode(response.bytes_stream(), request_id, stall);
        match events.next().await {
            Some(Ok(first)) => Ok(events.prepend(first)),
            Some(Err(err)) => Err(err),
            None => Err(failed("the OpenAI stream ended before its first chunk".to_string())),
        }
    }
}
