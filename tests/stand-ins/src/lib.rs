//! Stand-ins for every upstream of the service: real HTTP servers on loopback that speak the real
//! wire formats (Anthropic's streaming Messages API, OpenAI's embeddings and streaming Chat Completions, Clerk's JWKS, Sentry's
//! envelopes, and the downstream services the tools call), so tests and the offline dev stack
//! exercise the service's real clients. All of them run on one [`recording_server`], which
//! records every request they receive as one [`recording_server::RecordedRequest`] type for
//! assertions; a [`gate::Gate`] holds an answer back until the test lets it go.

pub mod anthropic;
pub mod clerk;
pub mod downstream;
pub mod gate;
pub mod openai;
pub mod openai_chat;
pub mod recording_server;
pub mod sentry;
