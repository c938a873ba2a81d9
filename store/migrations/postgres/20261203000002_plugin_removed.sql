-- Plugins removed through the admin API (`DELETE /admin/plugins/{name}`). Removing deletes the
-- plugin's `plugin_active` row and records its name here, in the same transaction that bumps
-- `plugin_generation`: every instance then drops the plugin, its copy in `PLUGINS_DIR` included,
-- until a new upload of that name (which deletes the row). `plugin_versions` keeps the history.

CREATE TABLE IF NOT EXISTS plugin_removed (
    name text PRIMARY KEY,
    generation bigint NOT NULL,
    removed_at timestamptz NOT NULL DEFAULT now()
);
