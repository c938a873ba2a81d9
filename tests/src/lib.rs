
pub mod sse_client;
