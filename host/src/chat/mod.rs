//! The chat turn: the Claude tool-use loop, its events, history and persistence. It knows nothing
//! of HTTP: the API layer validates a request into a [`request::TurnRequest`] and hands the turn an
//! [`sink::EventSink`].
//!
//! `turn` runs the loop, `events` are what the client is sent, `sink` + `sse` frame them in the
//! original's wire format, `history` rebuilds the conversation for Claude, `prompt` writes the
//! system prompt, `imports` tracks previewed imports, `catalog` the tool definitions and
//! `running_turns` caps the turns one user may run at once in this instance, and `turn_recovery`
//! closes the turns of an instance that died.

pub mod catalog;
pub mod events;
pub mod history;
pub mod imports;
pub mod prompt;
pub mod request;
pub mod running_turns;
pub mod sink;
pub mod sse;
pub mod turn;
pub mod turn_recovery;
