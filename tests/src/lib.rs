//! The end-to-end crate: real servers on loopback standing in for the upstreams (Clerk's JWKS,
//! Anthropic, OpenAI, the downstream services), the service under test, and the offline dev stack.
//! Suites live in `tests/` (one binary per area); what they share lives here.

pub mod anthropic;
pub mod clerk;
pub mod dev_stack;
pub mod downstream;
pub mod openai;
pub mod plugins;
pub mod recording_server;
pub mod release;
pub mod sentry;
pub mod server;
pub mod sse_client;
pub mod tcp_proxy;
pub mod tool_world;
