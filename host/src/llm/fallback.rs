//! Which provider a Claude call goes to, and what a failure means: the router the chat loop asks.
//!
//! A call goes to Anthropic (through the [`CallQueue`]) unless the [`CircuitBreaker`] is open and a
//! fallback is configured; then it goes to OpenAI at once. When an Anthropic call fails before any
//! output reached the client, for Anthropic's reasons (overload, rate limit, 5xx, a broken or
//! stalled stream; not a request of ours it refused), after the client's own retries, the call is
//! made again on OpenAI: the client sees the same events, only from another model.

use std::sync::Arc;

use super::circuit::CircuitBreaker;
use super::client::AnthropicClient;
use super::error::LlmError;
use super::openai::OpenAiChatClient;
use super::queue::CallQueue;
use super::shared_slots::SharedSlots;
use super::stream::MessageStream;
use super::types::{MessagesRequest, RequestMeta};
use crate::config::{Config, Fallback, Secret};

/// Who answers a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    #[default]
    Anthropic,
    OpenAi,
}

impl Provider {
    /// The `provider` label of the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
        }
    }
}

/// What to do after a call failed with nothing of it forwarded to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The same provider again.
    Retry,
    /// The call again on OpenAI.
    FallBack,
    GiveUp,
}

/// The providers of Claude calls, shared by every turn.
pub struct LlmRouter {
    anthropic: Arc<AnthropicClient>,
    openai: Option<OpenAiChatClient>,
    circuit: CircuitBreaker,
    queue: CallQueue,
}

impl LlmRouter {
    /// `openai` is the fallback, if any.
    pub fn new(
        anthropic: Arc<AnthropicClient>,
        openai: Option<OpenAiChatClient>,
        circuit: CircuitBreaker,
        queue: CallQueue,
    ) -> LlmRouter {
        LlmRouter { anthropic, openai, circuit, queue }
    }

    /// The router the settings describe: the fallback when `LLM_FALLBACK=openai` and an
    /// `OPENAI_API_KEY` is set (on `OPENAI_BASE_URL`), the breaker and the queue.
    pub fn from_config(config: &Config, anthropic: Arc<AnthropicClient>, http: reqwest::Client) -> LlmRouter {
        let routing = &config.llm;
        let openai = match (routing.fallback, &config.openai.api_key) {
            (Fallback::OpenAi, Some(key)) => Some(OpenAiChatClient::new(
                &config.openai.base_url,
                Some(key),
                &routing.openai_chat_model,
                routing.openai_stall_timeout,
                http,
            )),
            (Fallback::OpenAi, None) => {
                tracing::warn!("LLM_FALLBACK=openai without OPENAI_API_KEY: no fallback for Claude calls");
                None
            }
            (Fallback::Off, _) => None,
        };
        let mut queue = CallQueue::new(routing.max_concurrent_calls, routing.queue_wait);
        if let Some(url) = &config.turns.redis_url {
            let key = config.anthropic.api_key.as_ref().map(Secret::expose).unwrap_or_default();
            match SharedSlots::new(url.expose(), key, routing.shared_max_calls) {
                Ok(shared) => queue = queue.shared(shared),
                Err(err) => {
                    tracing::error!(error = %err, "REDIS_URL is unusable: Claude calls are bounded per instance only")
                }
            }
        }
        LlmRouter::new(
            anthropic,
            openai,
            CircuitBreaker::new(routing.circuit_failures, routing.circuit_cool_down),
            queue,
        )
    }

    pub fn anthropic(&self) -> &AnthropicClient {
        &self.anthropic
    }

    pub fn circuit(&self) -> &CircuitBreaker {
        &self.circuit
    }

    pub fn queue(&self) -> &CallQueue {
        &self.queue
    }

    pub fn has_fallback(&self) -> bool {
        self.openai.is_some()
    }

    /// Where the next call of a turn goes: Anthropic, unless its circuit is open and there is a fallback.
    pub fn choose(&self) -> Provider {
        if self.openai.is_some() && !self.circuit.allow() {
            metrics::counter!("chat_llm_fallbacks_total", "reason" => "circuit_open").increment(1);
            return Provider::OpenAi;
        }
        Provider::Anthropic
    }

    /// The model a provider is asked for.
    pub fn model(&self, provider: Provider) -> &str {
        match (provider, &self.openai) {
            (Provider::OpenAi, Some(openai)) => openai.model(),
            _ => self.anthropic.model(),
        }
    }

    /// Streams `request` from `provider`; an Anthropic call holds a slot of the queue until its
    /// stream is dropped.
    pub async fn stream(
        &self,
        provider: Provider,
        request: &MessagesRequest,
        meta: &RequestMeta,
    ) -> Result<MessageStream, LlmError> {
        match (provider, &self.openai) {
            (Provider::OpenAi, Some(openai)) => openai.stream(request, &meta.user_id).await,
            _ => {
                let slot = self.queue.enter().await?;
                Ok(self.anthropic.stream(request, meta).await?.holding(slot))
            }
        }
    }

    /// A call of `provider` completed.
    pub fn succeeded(&self, provider: Provider) {
        if provider == Provider::Anthropic {
            self.circuit.succeeded();
        }
    }

    /// What follows a call that failed before any of its output reached the client. `opened`: the
    /// stream had begun (the client's retries do not cover it); `retries_left`: the turn may still
    /// try the same provider again.
    pub fn after_failure(&self, provider: Provider, err: &LlmError, opened: bool, retries_left: bool) -> Recovery {
        if provider == Provider::OpenAi {
            return Recovery::GiveUp;
        }
        let retry = err.is_retryable() && retries_left;
        if opened && retry {
            // A stream that broke before any output: Anthropic gets another go first.
            return Recovery::Retry;
        }
        if anthropic_unavailable(err) {
            self.circuit.failed();
            if self.openai.is_some() {
                metrics::counter!("chat_llm_fallbacks_total", "reason" => err.kind()).increment(1);
                return Recovery::FallBack;
            }
        }
        if retry { Recovery::Retry } else { Recovery::GiveUp }
    }
}

/// Whether the failure is Anthropic's (another provider may well answer), as opposed to ours: a
/// request it refused as invalid (which would fail anywhere) or a key it refused (a configuration
/// error that must surface, not hide behind the fallback).
fn anthropic_unavailable(err: &LlmError) -> bool {
    match err {
        LlmError::Api { error_type, .. } => !matches!(
            error_type.as_str(),
            "invalid_request_error"
                | "request_too_large"
                | "not_found_error"
                | "authentication_error"
                | "permission_error"
        ),
        LlmError::OpenAi { .. } => false,
        LlmError::RateLimited { .. }
        | LlmError::Overloaded { .. }
        | LlmError::Connection(_)
        | LlmError::Timeout
        | LlmError::StreamEnded
        | LlmError::Decode(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, error_type: &str) -> LlmError {
        LlmError::Api { status: Some(status), error_type: error_type.into(), message: String::new(), request_id: None }
    }

    #[test]
    fn outages_are_anthropics_and_invalid_requests_are_ours() {
        assert!(anthropic_unavailable(&LlmError::Overloaded { request_id: None }));
        assert!(anthropic_unavailable(&LlmError::Timeout));
        assert!(anthropic_unavailable(&LlmError::RateLimited {
            retry_after: None,
            spend_limit: true,
            request_id: None
        }));
        assert!(anthropic_unavailable(&api(500, "api_error")));
        assert!(anthropic_unavailable(&api(402, "billing_error")));
        assert!(!anthropic_unavailable(&api(401, "authentication_error")));
        assert!(!anthropic_unavailable(&api(400, "invalid_request_error")));
        assert!(!anthropic_unavailable(&api(413, "request_too_large")));
    }
}
