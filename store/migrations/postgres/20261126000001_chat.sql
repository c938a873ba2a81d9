-- Chat tables, column-compatible with the original Supabase schema (amakaflow-db, AMA-430/502).
-- Every statement is idempotent so this migration can run against the existing production database,
-- where the tables already exist; it then only adds what the Rust service needs.

CREATE TABLE IF NOT EXISTS chat_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id text NOT NULL,
    title text,
    metadata jsonb DEFAULT '{}'::jsonb,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_chat_sessions_user_created ON chat_sessions (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_chat_sessions_user_updated ON chat_sessions (user_id, updated_at DESC);

CREATE TABLE IF NOT EXISTS chat_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    user_id text NOT NULL,
    role text NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool', 'tool_result')),
    content text,
    tool_calls jsonb,
    tool_results jsonb,
    model text,
    tokens_used int,
    latency_ms int,
    created_at timestamptz DEFAULT now()
);
ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS tool_use_id text;
-- Token usage per assistant message (the original wrote these columns without migrating them).
ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS input_tokens int;
ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS output_tokens int;
ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS cache_read_input_tokens int;
ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS cache_creation_input_tokens int;
-- A reply cut short (provider failure after output, shutdown) is kept and marked.
ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS incomplete boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS idx_chat_messages_session_created ON chat_messages (session_id, created_at);

-- Monthly message quota: one row per user and UTC month ('YYYY-MM').
CREATE TABLE IF NOT EXISTS chat_rate_limits (
    user_id text NOT NULL,
    period text NOT NULL,
    count int NOT NULL DEFAULT 0 CHECK (count >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, period)
);

-- Feature flags (AMA-437): global rows and per-user rows; the user's value wins.
CREATE TABLE IF NOT EXISTS feature_flags (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    flag_key text NOT NULL,
    scope text NOT NULL CHECK (scope IN ('global', 'user')),
    user_id text,
    value jsonb NOT NULL,
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now(),
    UNIQUE (flag_key, scope, user_id)
);

-- Hourly per-function limits (sync tools): one row per user, function and hour.
CREATE TABLE IF NOT EXISTS function_rate_limits (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id text NOT NULL,
    function_name text NOT NULL,
    window_start timestamptz NOT NULL,
    call_count int NOT NULL DEFAULT 0,
    created_at timestamptz DEFAULT now(),
    UNIQUE (user_id, function_name, window_start)
);

-- Key-value state of tool plugins, scoped to (plugin, user), with expiry.
CREATE TABLE IF NOT EXISTS tool_state (
    plugin text NOT NULL,
    user_id text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (plugin, user_id, key)
);
CREATE INDEX IF NOT EXISTS idx_tool_state_expires ON tool_state (expires_at);
