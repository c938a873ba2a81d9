-- The same table as migrations/postgres: timestamps RFC 3339 TEXT; AUTOINCREMENT so that an id is
-- never reused (pages are read by id).

CREATE TABLE IF NOT EXISTS admin_audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    key_id TEXT,
    actor TEXT,
    action TEXT NOT NULL,
    plugin TEXT,
    version TEXT,
    sha256 TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS idx_admin_audit_log_plugin ON admin_audit_log (plugin, id DESC);
