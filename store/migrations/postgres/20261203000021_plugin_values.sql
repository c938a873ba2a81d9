-- Per-plugin settings and secrets, managed by operators through the admin API (issue #11): what a
-- manifest interpolates with `${setting:NAME}` and `${secret:NAME}`. A setting is plain text in
-- `value`; a secret is only ever stored encrypted (ChaCha20-Poly1305 under PLUGIN_SECRETS_KEY, a
-- random nonce per value, the plugin and name as associated data) in `ciphertext` and `nonce`.
-- `plugin_values_generation` is bumped in the same transaction as every change, so instances poll
-- one row to see whether anything changed. Closed to Supabase's public roles like every table of
-- the service (see 20261203000003_lock_down.sql).

CREATE TABLE IF NOT EXISTS plugin_values (
    plugin text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('setting', 'secret')),
    name text NOT NULL,
    value text,
    ciphertext bytea,
    nonce bytea,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plugin, kind, name),
    CHECK ((kind = 'setting') = (value IS NOT NULL)),
    CHECK ((kind = 'secret') = (ciphertext IS NOT NULL AND nonce IS NOT NULL))
);

CREATE TABLE IF NOT EXISTS plugin_values_generation (
    id int PRIMARY KEY CHECK (id = 1),
    generation bigint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO plugin_values_generation (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

DO $$
DECLARE
    table_name text;
    qualified text;
    role_name text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY['plugin_values', 'plugin_values_generation'] LOOP
        qualified := format('%I.%I', current_schema(), table_name);
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', qualified);
        EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', qualified);
        FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            CONTINUE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name);
            EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', qualified, role_name);
        END LOOP;
    END LOOP;
END
$$;
