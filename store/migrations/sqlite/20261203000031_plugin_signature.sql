-- The same column as migrations/postgres.

ALTER TABLE plugin_versions ADD COLUMN signature TEXT;
