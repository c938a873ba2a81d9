-- The shared plugin set (DESIGN §6: every instance is stateless apart from the database). Every
-- uploaded version is kept; `plugin_active` says which version of each plugin serves, with the one
-- it replaced (for rollback); `plugin_generation` is bumped in the same transaction as every change,
-- so instances poll one row to see whether anything changed.

CREATE TABLE IF NOT EXISTS plugin_versions (
    name text NOT NULL,
    sha256 text NOT NULL,
    manifest_sha256 text NOT NULL,
    version text NOT NULL,
    manifest text NOT NULL,
    wasm bytea NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, sha256, manifest_sha256)
);

CREATE TABLE IF NOT EXISTS plugin_active (
    name text PRIMARY KEY,
    sha256 text NOT NULL,
    manifest_sha256 text NOT NULL,
    previous_sha256 text,
    previous_manifest_sha256 text,
    generation bigint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (name, sha256, manifest_sha256) REFERENCES plugin_versions (name, sha256, manifest_sha256),
    CHECK ((previous_sha256 IS NULL) = (previous_manifest_sha256 IS NULL))
);

CREATE TABLE IF NOT EXISTS plugin_generation (
    id int PRIMARY KEY CHECK (id = 1),
    generation bigint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO plugin_generation (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
