-- The same table as migrations/postgres: timestamps RFC 3339 TEXT.

CREATE TABLE IF NOT EXISTS plugin_removed (
    name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    removed_at TEXT NOT NULL
);
