//! The chat turn: `POST /chat/stream`, the Claude tool-use loop, SSE events, history, persistence.
