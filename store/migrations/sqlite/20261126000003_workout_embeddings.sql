-- The same table as migrations/postgres: vectors are little-endian f32 BLOBs, timestamps RFC 3339 TEXT.

CREATE TABLE IF NOT EXISTS workout_embeddings (
    source_table TEXT NOT NULL CHECK (source_table IN ('workouts', 'follow_along_workouts')),
    workout_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    description TEXT,
    content_hash TEXT,
    model TEXT,
    dims INTEGER NOT NULL DEFAULT 0 CHECK (dims >= 0),
    embedding BLOB,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source_table, workout_id),
    CHECK ((embedding IS NULL AND dims = 0) OR (embedding IS NOT NULL AND length(embedding) = dims * 4))
);
CREATE INDEX IF NOT EXISTS idx_workout_embeddings_user ON workout_embeddings (user_id, source_table);
