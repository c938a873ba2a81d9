//! The Anthropic Messages API client (streaming, retries, usage) and, later, the OpenAI fallback.
