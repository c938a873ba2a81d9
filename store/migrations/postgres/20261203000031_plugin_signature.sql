-- The minisign signature (`plugin.sig`) of a stored plugin version; NULL for an unsigned one. Not
-- part of the version's key: the loader checks it against the trusted keys each time the version
-- is applied, so a row written past the service without a trusted key is refused under enforce.

ALTER TABLE plugin_versions ADD COLUMN IF NOT EXISTS signature text;
