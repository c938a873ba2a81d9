//! The WebAssembly tool runtime, end to end: real components built from `plugins/` (`make
//! plugins`), real HTTP servers on loopback, real databases. Each module is one area:
//! loading and rejection, hostile plugins, the ceilings across calls, egress, calls, host
//! capabilities, hot reload, and the admin API of the service.

mod support;

mod admin_api;
mod calls;
mod capabilities;
mod ceilings;
mod egress;
mod hostile;
mod loading;
mod reload;
