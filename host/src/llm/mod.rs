//! The Anthropic Messages API client: streaming with retries before the first byte, typed events,
//! running-total usage, and the assembly of a streamed answer into an assistant turn. The chat loop
//! (`crate::chat`) drives it; nothing here knows about the client-facing SSE contract.
//!
//! - [`types`]: the request (messages, content blocks, tools) and its wire form.
//! - [`client`]: sending, Helicone routing, retries.
//! - [`lanes`]: many streams to an HTTP/2 connection, a few connections for thousands of turns.
//! - [`stream`]: decoding the event stream into [`StreamEvent`]s.
//! - [`accumulate`]: assembling events into an [`AssistantTurn`].
//! - [`stop_reason`]: why Claude stopped, as an enum.
//! - [`usage`], [`retry`], [`error`]: token accounting, backoff policy, the error type.
//! - [`fallback`]: which provider a call goes to, and falling back to [`openai`] when Anthropic
//!   fails before any output; [`circuit`]: the breaker that skips Anthropic after repeated
//!   failures; [`queue`]: the bound on concurrent Claude calls a burst waits for, shared by the
//!   instances through Redis ([`shared_slots`]).

pub mod accumulate;
pub mod circuit;
pub mod client;
pub mod error;
pub mod fallback;
pub mod lanes;
pub mod openai;
pub mod queue;
pub mod retry;
pub mod shared_slots;
pub mod stop_reason;
pub mod stream;
pub mod types;
pub mod usage;

pub use accumulate::{AssistantTurn, MessageAccumulator, ToolUseBlock};
pub use circuit::{CircuitBreaker, CircuitState};
pub use client::{ANTHROPIC_VERSION, AnthropicClient, ClientOptions};
pub use error::{LlmError, SPEND_LIMIT_ERROR_CODE};
pub use fallback::{LlmRouter, Provider, Recovery};
pub use lanes::ConnectionLanes;
pub use openai::OpenAiChatClient;
pub use queue::CallQueue;
pub use retry::RetryPolicy;
pub use stop_reason::StopReason;
pub use stream::{BlockStart, MessageStream, StreamEvent};
pub use types::{ApiMessage, ContentBlock, MessagesRequest, RequestMeta, Role, ToolDef};
pub use usage::{Usage, UsageDelta};
