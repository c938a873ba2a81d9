//! Stand-ins for every upstream of the service: real HTTP servers on loopback that speak the real
//! wire formats (Anthropic's streaming Messages API, OpenAI's embeddings, Clerk's JWKS, Sentry's
//! envelopes, and the downstream services the tools call), so tests and the offline dev stack
//! exercise the service's real clients. Each records what it received for assertions.

pub mod anthropic;
pub mod clerk;
pub mod downstream;
pub mod openai;
pub mod recording_server;
pub mod sentry;
