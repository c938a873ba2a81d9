//! The AmakaFlow Chat API as a library: the binary (`main.rs`) and the end-to-end tests build the
//! same [`app::App`]. A request flows one way: `api` → `chat` → `llm` / tool runtime → store.
//! Only `api`, `server` (the connections it is served over) and `app` (which assembles them) know
//! HTTP; `chat`, `live`, `llm`, `auth`, `embeddings` and `telemetry` never name `api` or `app` (a test in
//! the deploy suite holds them to it).

pub mod api;
pub mod app;
pub mod auth;
pub mod chat;
pub mod cli;
pub mod config;
pub mod embeddings;
pub mod http_client;
pub mod live;
pub mod llm;
pub mod mcp;
pub mod quota;
pub mod server;
pub mod shutdown;
pub mod storage_purge;
pub mod telemetry;
