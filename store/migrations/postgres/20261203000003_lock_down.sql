-- The tables of this service closed to Supabase's public roles (DESIGN §9). Supabase's Data API
-- serves the `public` schema to anyone holding the project's anon key (role `anon`) or a user's
-- token (role `authenticated`), and Supabase grants those roles every table created in `public` by
-- default. These tables hold users' messages, their quota tier and the plugin set every instance
-- runs, so only the service's own connection may read or write them:
--
-- * row level security on, with no policy: a role that is neither the table's owner nor exempt
--   (BYPASSRLS: Supabase's `postgres` and `service_role`) sees no row and can change none, even if a
--   grant comes back (a dashboard click, Supabase's default privileges);
-- * every privilege revoked from `anon`, `authenticated` and PUBLIC: they cannot even try.
--
-- The service connects as the tables' owner (Supabase's `postgres` role, through `DATABASE_URL`),
-- which row level security does not restrict. On a plain Postgres (tests, other hosts) the two
-- roles are created when absent and missing the privilege to do so is not an error: then there is
-- nobody to revoke from. Idempotent; columns are untouched. Tables of other services that share
-- the schema are left alone: only the names below are this service's. A table added later joins
-- this list in its own migration (the storage suite fails for any table `anon` can read or write).

DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION
                -- Created meanwhile by a concurrent migration of another schema.
                WHEN duplicate_object OR unique_violation THEN NULL;
                WHEN insufficient_privilege THEN
                    RAISE NOTICE 'role % is absent and cannot be created here: nothing to revoke from it', role_name;
            END;
        END IF;
    END LOOP;
END
$$;

DO $$
DECLARE
    table_name text;
    qualified text;
    sequence_name text;
    role_name text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY[
        'chat_sessions', 'chat_messages', 'chat_rate_limits', 'feature_flags', 'function_rate_limits',
        'tool_state', 'workout_embeddings', 'plugin_versions', 'plugin_active', 'plugin_generation',
        'plugin_removed', 'admin_audit_log', '_sqlx_migrations'
    ] LOOP
        qualified := format('%I.%I', current_schema(), table_name);
        CONTINUE WHEN to_regclass(qualified) IS NULL;
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', qualified);
        EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC', qualified);
        FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            CONTINUE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name);
            EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', qualified, role_name);
            -- The sequences the table owns (the audit log's identity column).
            FOR sequence_name IN
                SELECT sequence.oid::regclass::text FROM pg_class sequence
                JOIN pg_depend dependency ON dependency.objid = sequence.oid
                    AND dependency.classid = 'pg_class'::regclass
                    AND dependency.refobjid = to_regclass(qualified)
                WHERE sequence.relkind = 'S'
            LOOP
                EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %I', sequence_name, role_name);
            END LOOP;
        END LOOP;
    END LOOP;
END
$$;
