//! One sandbox: a fresh wasmtime `Store` per call (and per `describe`), created from a plugin's
//! pre-instantiated component and dropped when the call ends, whatever happened. [`state`] is what
//! the store holds, [`call`] runs a function and classifies what came out, [`describe`] asks a
//! component for its functions at load time.

pub mod call;
pub mod describe;
pub mod state;
pub mod stderr;

pub use state::CallState;
