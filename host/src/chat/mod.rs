//! The chat turn: `POST /chat/stream`, the Claude tool-use loop, SSE events, history, persistence.
//!
//! `request` validates the body, `turn` runs the loop, `sink` + `sse` put events on the wire in the
//! original framing, `history` rebuilds the conversation for Claude, `prompt` writes the system
//! prompt and `imports` tracks previewed imports.

pub mod catalog;
pub mod events;
pub mod history;
pub mod imports;
pub mod prompt;
pub mod request;
pub mod sink;
pub mod sse;
pub mod turn;
