//! Throwaway databases for tests, on both backends: a SQLite file in the temp directory, or a fresh
//! schema in the local Postgres (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
//! Each is removed again when the handle is dropped. [`TestDatabase::original_schema`] is a third
//! kind: a whole database on the Postgres with pgvector holding the original service's Supabase
//! schema (`fixtures/original_schema.sql`) with this service's migrations applied over it.

use std::path::PathBuf;

use sqlx::Connection;

use crate::{Backend, Result, Store, StoreOptions};

/// Both backends, for tests that must pass on each.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// Connections a test database may open. The local Postgres allows 100 in total and several test
/// binaries run at once, so each test stays well below that while still racing many statements.
const MAX_TEST_CONNECTIONS: u32 = 20;

/// The Postgres server tests use.
pub fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// The Postgres with pgvector the cutover tests use (`PGVECTOR_DATABASE_URL`, exported by the
/// Makefile, which starts it with `tests/pgvector/start.sh`).
pub fn pgvector_url() -> String {
    std::env::var("PGVECTOR_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:54329/postgres".to_string())
}

/// The original service's Supabase schema (tables, triggers, RPCs, the `vector` extension).
pub const ORIGINAL_SCHEMA_SQL: &str = include_str!("../fixtures/original_schema.sql");

/// A migrated, empty database that disappears on drop.
pub struct TestDatabase {
    pub store: Store,
    /// The URL (and, for Postgres, the schema) another process can use to reach the same data.
    pub url: String,
    pub schema: Option<String>,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(PathBuf),
    Postgres { url: String, schema: String },
    Database { admin_url: String, name: String },
}

impl TestDatabase {
    /// A database on `backend`.
    pub async fn new(backend: Backend) -> Result<TestDatabase> {
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A SQLite file in the temp directory.
    pub async fn sqlite() -> Result<TestDatabase> {
        let path = std::env::temp_dir().join(format!("chat-test-{}.db", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}", path.display());
        let store =
            Store::connect(&StoreOptions { max_connections: MAX_TEST_CONNECTIONS, ..StoreOptions::new(&url) }).await?;
        Ok(TestDatabase { store, url, schema: None, cleanup: Cleanup::Sqlite(path) })
    }

    /// A new schema in the local Postgres.
    pub async fn postgres() -> Result<TestDatabase> {
        let url = postgres_url();
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&url).await?;
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await?;
        admin.close().await?;
        let options = StoreOptions {
            schema: Some(schema.clone()),
            max_connections: MAX_TEST_CONNECTIONS,
            ..StoreOptions::new(&url)
        };
        let store = Store::connect(&options).await?;
        Ok(TestDatabase {
            store,
            url: url.clone(),
            schema: Some(schema.clone()),
            cleanup: Cleanup::Postgres { url, schema },
        })
    }

    /// A new database on the Postgres with pgvector holding the original schema, with this
    /// service's migrations applied over it (as the deploy does). Fails with a clear message when
    /// that server is not running (`make pgvector` starts it).
    pub async fn original_schema() -> Result<TestDatabase> {
        let (db, _) = Self::original_schema_unmigrated().await?;
        db.store.migrate().await?;
        Ok(db)
    }

    /// The original schema alone (nothing of this service applied yet), and its URL.
    pub async fn original_schema_unmigrated() -> Result<(TestDatabase, String)> {
        let admin_url = pgvector_url();
        let name = format!("orig_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.map_err(|e| {
            crate::StoreError::InvalidUrl(format!(
                "the Postgres with pgvector is not reachable at PGVECTOR_DATABASE_URL ({e}); start it with `make pgvector`"
            ))
        })?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
        admin.close().await?;
        let url = with_database(&admin_url, &name);
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        sqlx::raw_sql(ORIGINAL_SCHEMA_SQL).execute(&mut conn).await?;
        conn.close().await?;
        let options =
            StoreOptions { max_connections: MAX_TEST_CONNECTIONS, run_migrations: false, ..StoreOptions::new(&url) };
        let store = Store::connect(&options).await?;
        let db = TestDatabase { store, url: url.clone(), schema: None, cleanup: Cleanup::Database { admin_url, name } };
        Ok((db, url))
    }

    /// Options that open this same database from another `Store` (for example a server under test).
    pub fn options(&self) -> StoreOptions {
        StoreOptions { schema: self.schema.clone(), max_connections: 4, ..StoreOptions::new(&self.url) }
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }
}

/// `url` with its database (the path) replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { url, schema } => {
                // Drop runs outside async context; a short-lived runtime on its own thread does the I/O.
                let (url, schema) = (url.clone(), schema.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    rt.block_on(async {
                        let mut admin = sqlx::PgConnection::connect(&url).await.ok()?;
                        sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .execute(&mut admin)
                            .await
                            .ok()?;
                        admin.close().await.ok()
                    })
                })
                .join();
            }
            Cleanup::Database { admin_url, name } => {
                let (url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    rt.block_on(async {
                        let mut admin = sqlx::PgConnection::connect(&url).await.ok()?;
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin)
                            .await
                            .ok()?;
                        admin.close().await.ok()
                    })
                })
                .join();
            }
        }
    }
}
