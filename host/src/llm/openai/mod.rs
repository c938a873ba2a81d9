//! OpenAI Chat Completions as the fallback provider of a turn (the runbook's remedy for an
//! Anthropic outage). The chat loop speaks Anthropic's shapes only; this module translates both
//! ways so it never has to know which provider answered:
//!
//! - [`request`]: a Messages API request (system prompt, history with tool calls and results,
//!   tool definitions) as a Chat Completions body.
//! - [`stream`]: streamed chunks (text, tool-call argument fragments, `finish_reason`, usage) as
//!   Anthropic's stream events.
//! - [`client`]: sending it, one attempt, errors as [`crate::llm::LlmError::OpenAi`].

pub mod client;
mod request;
mod stream;

pub use client::OpenAiChatClient;
