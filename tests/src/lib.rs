//! Shared parts of the end-to-end suites: real servers standing in for the services the chat
//! talks to, and helpers to set up what a suite needs.

pub mod plugins;
pub mod recording_server;
