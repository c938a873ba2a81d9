//! The WebAssembly tool runtime, end to end: real components built from `plugins/` (`make
//! plugins`), real HTTP servers on loopback, real databases. Each module is one area:
//! loading and rejection, hostile plugins, egress, calls, host capabilities, hot reload, and the
//! admin API of the service.

#[path = "tool_runtime/support.rs"]
mod support;

#[path = "tool_runtime/admin_api.rs"]
mod admin_api;
#[path = "tool_runtime/calls.rs"]
mod calls;
#[path = "tool_runtime/capabilities.rs"]
mod capabilities;
#[path = "tool_runtime/egress.rs"]
mod egress;
#[path = "tool_runtime/hostile.rs"]
mod hostile;
#[path = "tool_runtime/loading.rs"]
mod loading;
#[path = "tool_runtime/reload.rs"]
mod reload;
