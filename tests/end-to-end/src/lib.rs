//! What the end-to-end suites share: the service under test on loopback ([`server`]), an SSE
//! client that reads its streams as a browser would ([`sse_client`]), the plugins `make plugins`
//! built ([`plugins`]), a world of stand-in services for tool calls ([`tool_world`]), a TCP proxy
//! that takes a dependency down ([`tcp_proxy`]), the release binary the benchmarks spawn
//! ([`release`]), the one polling helper for what offers no signal to await ([`poll`]), runs
//! that count within one window of the wall clock ([`clock_window`]), a slow-loris client
//! ([`slow_loris`]), racing quota reservations ([`quota_race`]), Redis for the suites ([`redis_server`])
//! and a server that never answers and notices when it is abandoned ([`hanging_server`]). The stand-ins themselves are
//! the `stand-ins` crate; suites live in `tests/<suite>/main.rs`, one binary per area.

pub mod clock_window;
pub mod hanging_server;
pub mod plugin_admin;
pub mod plugins;
pub mod poll;
pub mod process_memory;
pub mod quota_race;
pub mod raw_request;
pub mod redis_server;
pub mod release;
pub mod server;
pub mod slow_loris;
pub mod sse_client;
pub mod tcp_proxy;
pub mod tool_world;
pub mod toolchains;
