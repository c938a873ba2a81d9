//! The AmakaFlow Chat API as a library: the binary (`main.rs`) and the end-to-end tests build the
//! same [`app::App`]. A request flows one way: `api` → `chat` → `llm` / tool runtime → store.

pub mod api;
pub mod app;
pub mod auth;
pub mod chat;
pub mod cli;
pub mod config;
pub mod embeddings;
pub mod llm;
pub mod quota;
pub mod shutdown;
pub mod streams;
pub mod telemetry;
