-- The same tables as migrations/postgres: components are BLOBs, timestamps RFC 3339 TEXT.

CREATE TABLE IF NOT EXISTS plugin_versions (
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    version TEXT NOT NULL,
    manifest TEXT NOT NULL,
    wasm BLOB NOT NULL,
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (name, sha256, manifest_sha256)
);

CREATE TABLE IF NOT EXISTS plugin_active (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    previous_sha256 TEXT,
    previous_manifest_sha256 TEXT,
    generation INTEGER NOT NULL,
    changed_at TEXT NOT NULL,
    FOREIGN KEY (name, sha256, manifest_sha256) REFERENCES plugin_versions (name, sha256, manifest_sha256),
    CHECK ((previous_sha256 IS NULL) = (previous_manifest_sha256 IS NULL))
);

CREATE TABLE IF NOT EXISTS plugin_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL,
    changed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO plugin_generation (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
