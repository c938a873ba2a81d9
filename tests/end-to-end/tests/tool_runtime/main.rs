//! The WebAssembly tool runtime, end to end: real components built from `plugins/` (`make
//! plugins`), real HTTP servers on loopback, real databases. Each module is one area:
//! loading and rejection, the operator's policy, hostile plugins, floods and ceilings across calls
//! (state, errors, memory, requests in flight), egress, calls, host capabilities, hot reload, and
//! the admin API of the service.

mod support;

mod admin_api;
mod calls;
mod capabilities;
mod ceilings;
mod egress;
mod floods;
mod hostile;
mod loading;
mod policy;
mod reload;
