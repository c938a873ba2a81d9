//! A stand-in for the Anthropic Messages API: a real HTTP server on loopback that speaks the
//! streaming wire format byte for byte. Tests script it reply by reply ([`Reply`]) and read back
//! every request it received (it runs on the shared [`crate::recording_server::RecordingServer`]);
//! in dev mode ([`StandIn::dev_model`]) it is the deterministic scripted model of the offline dev
//! stack (`make run`). It is a stand-in, and says so in its logs and texts.
//!
//! ```no_run
//! # async fn demo() {
//! use stand_ins::anthropic::{Reply, StandIn};
//! let anthropic = StandIn::start().await;
//! anthropic.push(Reply::status(529));
//! anthropic.push(Reply::text("Hello").and_tool_use("toolu_1", "search_workout_library", r#"{"query":"legs"}"#));
//! // ANTHROPIC_BASE_URL = anthropic.url()
//! # }
//! ```

mod dev_model;
mod reply;
mod server;
mod validate;
mod wire;

pub use dev_model::STAND_IN_LABEL;
pub use reply::{Chunking, Frame, Reply, Split};
pub use server::{NOW_MARKER, StandIn, StandInBuilder};

/// A random id in Anthropic's style: `prefix` + 24 base62 characters.
pub(crate) fn new_id(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let tail: String = (0..24).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
    format!("{prefix}{tail}")
}
