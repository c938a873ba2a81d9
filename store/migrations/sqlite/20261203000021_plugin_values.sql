-- The same tables as migrations/postgres: timestamps RFC 3339 TEXT, ciphertexts BLOBs.

CREATE TABLE IF NOT EXISTS plugin_values (
    plugin TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('setting', 'secret')),
    name TEXT NOT NULL,
    value TEXT,
    ciphertext BLOB,
    nonce BLOB,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (plugin, kind, name),
    CHECK ((kind = 'setting') = (value IS NOT NULL)),
    CHECK ((kind = 'secret') = (ciphertext IS NOT NULL AND nonce IS NOT NULL))
);

CREATE TABLE IF NOT EXISTS plugin_values_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL,
    changed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO plugin_values_generation (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
