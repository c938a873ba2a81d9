//! What the end-to-end suites share: the service under test on loopback ([`server`]), an SSE
//! client that reads its streams as a browser would ([`sse_client`]), the plugins `make plugins`
//! built ([`plugins`]), a world of stand-in services for tool calls ([`tool_world`]), a TCP proxy
//! that takes a dependency down ([`tcp_proxy`]) and the release binary the benchmarks spawn
//! ([`release`]). The stand-ins themselves are the `stand-ins` crate; suites live in
//! `tests/<suite>/main.rs`, one binary per area.

pub mod plugins;
pub mod release;
pub mod server;
pub mod sse_client;
pub mod tcp_proxy;
pub mod tool_world;
