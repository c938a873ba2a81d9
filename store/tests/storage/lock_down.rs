//! The Postgres tables of the service closed to Supabase's public roles: in a schema set up as
//! Supabase sets up `public` (the roles `anon` and `authenticated` may use it, and are granted every
//! table created in it), a connection acting as either role can neither read nor write any table
//! the migrations leave there, nor draw from their sequences; a grant given back by hand still shows
//! it no row and lets it write none (row level security); the tables' owner, the service's own
//! connection, keeps reading and writing.

use sqlx::{Connection, PgConnection};
use store::testing::postgres_url;
use store::{NewAuditEntry, Store, StoreOptions};

const PUBLIC_ROLES: [&str; 2] = ["anon", "authenticated"];

/// Postgres' `insufficient_privilege`: what both a revoked grant and row level security answer.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

async fn execute(connection: &mut PgConnection, statement: &str) -> Result<(), sqlx::Error> {
    sqlx::query(statement).execute(connection).await.map(|_| ())
}

/// Creates `role` unless it exists (another test may be creating it at the same moment).
async fn ensure_role(admin: &mut PgConnection, role: &str) {
    match execute(admin, &format!("CREATE ROLE {role} NOLOGIN")).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(err)) if matches!(err.code().as_deref(), Some("42710" | "23505")) => {}
        Err(err) => panic!("creating role {role}: {err}"),
    }
}

/// Runs `statement` as `role` (in a transaction rolled back afterwards); the SQLSTATE of its error.
async fn as_role(connection: &mut PgConnection, role: &str, statement: &str) -> Result<(), String> {
    let mut tx = connection.begin().await.unwrap();
    execute(&mut tx, &format!("SET LOCAL ROLE {role}")).await.unwrap();
    let result = sqlx::query(statement).execute(&mut *tx).await;
    tx.rollback().await.unwrap();
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(err)) => Err(err.code().map(|c| c.into_owned()).unwrap_or_default()),
        Err(err) => panic!("{statement}: {err}"),
    }
}

/// The number of rows `role` sees in `table`.
async fn rows_seen_by(connection: &mut PgConnection, role: &str, table: &str) -> i64 {
    let mut tx = connection.begin().await.unwrap();
    execute(&mut tx, &format!("SET LOCAL ROLE {role}")).await.unwrap();
    let count = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    count
}

#[tokio::test]
async fn supabase_public_roles_can_neither_read_nor_write_any_table_of_the_service() {
    let url = postgres_url();
    let schema = format!("lock_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&url).await.unwrap();
    for role in PUBLIC_ROLES {
        ensure_role(&mut admin, role).await;
    }
    // The schema as Supabase's `public`: usable by the public roles, which get every new table.
    for statement in [
        format!("CREATE SCHEMA {schema}"),
        format!("GRANT USAGE ON SCHEMA {schema} TO anon, authenticated"),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT ALL ON TABLES TO anon, authenticated"),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT ALL ON SEQUENCES TO anon, authenticated"),
    ] {
        execute(&mut admin, &statement).await.unwrap();
    }
    let store =
        Store::connect(&StoreOptions { schema: Some(schema.clone()), ..StoreOptions::new(&url) }).await.unwrap();
    // Rows worth stealing.
    let session = store.create_session("user_private", "my health").await.unwrap();
    store.audit_record(&NewAuditEntry { action: "upload", outcome: "succeeded", ..Default::default() }).await.unwrap();

    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY 1")
            .bind(&schema)
            .fetch_all(&mut admin)
            .await
            .unwrap();
    for expected in
        ["chat_messages", "chat_sessions", "feature_flags", "plugin_active", "admin_audit_log", "_sqlx_migrations"]
    {
        assert!(tables.iter().any(|t| t == expected), "{expected} missing from {tables:?}");
    }
    for table in &tables {
        let qualified = format!("{schema}.{table}");
        let secured: bool = sqlx::query_scalar("SELECT relrowsecurity FROM pg_class WHERE oid = $1::regclass")
            .bind(&qualified)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert!(secured, "{table}: row level security is off");
        for role in PUBLIC_ROLES {
            for statement in [
                format!("SELECT * FROM {qualified} LIMIT 1"),
                format!("INSERT INTO {qualified} DEFAULT VALUES"),
                format!(
                    "UPDATE {qualified} SET {column} = {column}",
                    column = first_column(&mut admin, &qualified).await
                ),
                format!("DELETE FROM {qualified}"),
                format!("TRUNCATE {qualified}"),
            ] {
                let refused = as_role(&mut admin, role, &statement).await;
                assert_eq!(refused, Err(INSUFFICIENT_PRIVILEGE.to_string()), "{role}: {statement}");
            }
        }
    }
    let sequence = format!("{schema}.admin_audit_log_id_seq");
    for role in PUBLIC_ROLES {
        let drawn = as_role(&mut admin, role, &format!("SELECT nextval('{sequence}')")).await;
        assert_eq!(drawn, Err(INSUFFICIENT_PRIVILEGE.to_string()), "{role}: the audit log's sequence");
    }

    // A grant given back by hand (a dashboard click) still shows nothing and writes nothing.
    let sessions = format!("{schema}.chat_sessions");
    execute(&mut admin, &format!("GRANT SELECT, INSERT ON {sessions} TO anon")).await.unwrap();
    assert_eq!(rows_seen_by(&mut admin, "anon", &sessions).await, 0);
    let insert = format!("INSERT INTO {sessions} (user_id, title) VALUES ('user_attacker', 'mine')");
    assert_eq!(as_role(&mut admin, "anon", &insert).await, Err(INSUFFICIENT_PRIVILEGE.to_string()));

    // The owner (what the service connects as: Supabase's `postgres`, not a superuser there) is
    // not restricted by row level security.
    ensure_role(&mut admin, "chat_owner_probe").await;
    execute(&mut admin, &format!("GRANT USAGE ON SCHEMA {schema} TO chat_owner_probe")).await.unwrap();
    execute(&mut admin, &format!("ALTER TABLE {sessions} OWNER TO chat_owner_probe")).await.unwrap();
    assert_eq!(rows_seen_by(&mut admin, "chat_owner_probe", &sessions).await, 1);
    let insert = format!("INSERT INTO {sessions} (user_id, title) VALUES ('user_second', 'fine')");
    assert_eq!(as_role(&mut admin, "chat_owner_probe", &insert).await, Ok(()));
    assert_eq!(
        store.get_session(session.id, "user_private").await.unwrap().unwrap().title.as_deref(),
        Some("my health")
    );

    store.close().await;
    execute(&mut admin, &format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
}

/// The first column of `table` (for an `UPDATE` that changes nothing).
async fn first_column(admin: &mut PgConnection, table: &str) -> String {
    sqlx::query_scalar("SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum = 1")
        .bind(table)
        .fetch_one(admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_lock_down_is_idempotent_and_keeps_the_columns() {
    let db = store::testing::TestDatabase::postgres().await.unwrap();
    let schema = db.schema.clone().unwrap();
    let mut admin = PgConnection::connect(&postgres_url()).await.unwrap();
    let before = columns(&mut admin, &schema).await;
    // Running the lock-down again (as a re-applied migration would) changes nothing and fails nothing.
    let lock_down = include_str!("../../migrations/postgres/20261203000003_lock_down.sql");
    let mut connection = PgConnection::connect(&postgres_url()).await.unwrap();
    execute(&mut connection, &format!("SET search_path = {schema}")).await.unwrap();
    sqlx::raw_sql(lock_down).execute(&mut connection).await.unwrap();
    db.store.migrate().await.unwrap();
    assert_eq!(columns(&mut admin, &schema).await, before);
}

/// Every column of `schema`'s tables, with its type.
async fn columns(admin: &mut PgConnection, schema: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name || '.' || column_name || ':' || data_type FROM information_schema.columns \
         WHERE table_schema = $1 ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(admin)
    .await
    .unwrap()
}
