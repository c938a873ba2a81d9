-- The same tables as migrations/postgres, in SQLite types: uuids are 16-byte BLOBs, timestamps
-- RFC 3339 TEXT (they sort as text), JSON is TEXT.

CREATE TABLE IF NOT EXISTS chat_sessions (
    id BLOB PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    title TEXT,
    metadata TEXT DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_chat_sessions_user_created ON chat_sessions (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_chat_sessions_user_updated ON chat_sessions (user_id, updated_at DESC);

CREATE TABLE IF NOT EXISTS chat_messages (
    id BLOB PRIMARY KEY NOT NULL,
    session_id BLOB NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool', 'tool_result')),
    content TEXT,
    tool_calls TEXT,
    tool_results TEXT,
    model TEXT,
    tokens_used INTEGER,
    latency_ms INTEGER,
    created_at TEXT NOT NULL,
    tool_use_id TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cache_read_input_tokens INTEGER,
    cache_creation_input_tokens INTEGER,
    incomplete INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_chat_messages_session_created ON chat_messages (session_id, created_at);

CREATE TABLE IF NOT EXISTS chat_rate_limits (
    user_id TEXT NOT NULL,
    period TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),
    updated_at TEXT,
    PRIMARY KEY (user_id, period)
);

CREATE TABLE IF NOT EXISTS feature_flags (
    flag_key TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('global', 'user')),
    user_id TEXT,
    value TEXT NOT NULL,
    updated_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_feature_flags_key ON feature_flags (flag_key, scope, COALESCE(user_id, ''));

CREATE TABLE IF NOT EXISTS function_rate_limits (
    user_id TEXT NOT NULL,
    function_name TEXT NOT NULL,
    window_start TEXT NOT NULL,
    call_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, function_name, window_start)
);

CREATE TABLE IF NOT EXISTS tool_state (
    plugin TEXT NOT NULL,
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (plugin, user_id, key)
);
CREATE INDEX IF NOT EXISTS idx_tool_state_expires ON tool_state (expires_at);
