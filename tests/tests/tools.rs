//! All 27 tools of the original service, each a real WebAssembly plugin (`make plugins`) called
//! through the real tool runtime, against real HTTP stand-ins of the services they call: the exact
//! request each sends (method, path, query, `Authorization`, `X-User-Id`, body) and the exact
//! result string, for a success and for every failure class (timeout, 401, 404, other status,
//! connection refused); previews end to end; the cancel confirmation rule; the sync rate limit;
//! semantic search with its keyword fallback; and a chat turn in which Claude uses two tools.

#[path = "tools/support.rs"]
mod support;

#[path = "tools/calendar.rs"]
mod calendar;
#[path = "tools/chat_turn.rs"]
mod chat_turn;
#[path = "tools/failures.rs"]
mod failures;
#[path = "tools/ingestor.rs"]
mod ingestor;
#[path = "tools/mapper.rs"]
mod mapper;
#[path = "tools/navigation.rs"]
mod navigation;
#[path = "tools/previews.rs"]
mod previews;
#[path = "tools/search.rs"]
mod search;
#[path = "tools/sync.rs"]
mod sync;
