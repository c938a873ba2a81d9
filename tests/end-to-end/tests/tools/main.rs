//! All 27 tools of the original service, each a real WebAssembly plugin (`make plugins`) called
//! through the real tool runtime, against real HTTP stand-ins of the services they call: the exact
//! request each sends (method, path, query, `Authorization`, `X-User-Id`, body) and the exact
//! result string, for a success and for every failure class (timeout, 401, 404, other status,
//! connection refused); previews end to end; the cancel confirmation rule; the sync rate limit;
//! semantic search with its keyword fallback; and a chat turn in which Claude uses two tools.

mod support;

mod calendar;
mod chat_turn;
mod failures;
mod ingestor;
mod mapper;
mod navigation;
mod previews;
mod search;
mod sync;
