//! Stand-ins for the upstreams and helpers shared by the end-to-end suites and the offline dev stack.

pub mod anthropic;
pub mod sse_client;
