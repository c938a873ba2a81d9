-- Embeddings of the users' workouts, for the semantic search of `search_workout_library` (issue 5).
-- Kept in a table of this service (not the pgvector columns of the shared `workouts` table), so the
-- same schema works on SQLite and on a Postgres without the `vector` extension. A vector is stored as
-- little-endian f32 bytes with its dimension; a row without a vector is a workout the pipeline knows
-- but could not embed (empty text or a failed request), which the progress endpoint counts as remaining.

CREATE TABLE IF NOT EXISTS workout_embeddings (
    source_table text NOT NULL CHECK (source_table IN ('workouts', 'follow_along_workouts')),
    workout_id text NOT NULL,
    user_id text NOT NULL,
    title text NOT NULL DEFAULT '',
    description text,
    content_hash text,
    model text,
    dims int NOT NULL DEFAULT 0 CHECK (dims >= 0),
    embedding bytea,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_table, workout_id),
    CHECK ((embedding IS NULL AND dims = 0) OR (embedding IS NOT NULL AND octet_length(embedding) = dims * 4))
);
CREATE INDEX IF NOT EXISTS idx_workout_embeddings_user ON workout_embeddings (user_id, source_table);
