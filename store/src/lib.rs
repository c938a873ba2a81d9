//! Persistence for the chat service: one repository API over two backends.
//!
//! SQLite is the embedded default (development, the author CLI, single-node use); Postgres is
//! production (Supabase's database, whose original tables stay column-compatible). Every query is
//! written once: the SQL is portable between the two, and [`with_pool!`] instantiates the same code
//! for each driver. Values that the two store differently (uuids, timestamps, JSON) go through sqlx
//! types that both drivers encode: `Uuid`, `DateTime<Utc>` and `Json<Value>`.

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub mod audit_log;
pub mod embeddings;
pub mod flags;
pub mod function_limits;
pub mod messages;
pub mod original_usage;
pub mod plugin_values;
pub mod plugin_versions;
pub mod quota;
pub mod secrets_key;
pub mod sessions;
pub mod shared_vectors;
pub mod testing;
pub mod text;
pub mod tool_state;

pub use audit_log::{AuditEntry, AuditQuery, NewAuditEntry};
pub use flags::FeatureFlags;
pub use messages::{Message, NewMessage, Role};
pub use original_usage::OriginalTables;
pub use plugin_values::{PluginValue, ValueChange, ValueKind, ValueListing};
pub use plugin_versions::{ActivePlugin, NewPluginVersion, PluginVersionKey, StoredPluginVersion};
pub use quota::{Period, Reservation};
pub use secrets_key::SecretsKey;
pub use sessions::Session;
pub use sqlx::types::Json;
pub use tool_state::{StatePut, StateQuota, StateUsage};

/// Errors of the storage layer. Callers log them and show users a generic message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    /// A stored plugin secret cannot be opened (the message names it, never its value).
    #[error("{0}")]
    Secret(String),
    /// An operation this database's schema does not offer (pgvector columns where there are none).
    #[error("{0}")]
    Unsupported(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of either backend. The body is compiled once
/// per driver, so one piece of source serves both.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Postgres($pool) => $body,
            $crate::Pool::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// [`with_pool!`] for the quota and rate-limit counters: `$conn` is the SQLite pool, or on Postgres
/// the counter pool, whose connections commit asynchronously (`synchronous_commit = off`, set in
/// their start-up packet, so a counter stays one statement and one round trip).
///
/// Why: a synchronous commit waits for the WAL flush (3–5 ms on this machine's disk, against
/// ~0.2 ms without), and the counters are on every turn's path. The trade-off: a database crash
/// can lose the counter increments of the last `wal_writer_delay` (200 ms by default) — never a
/// torn or over-counted row, only a few messages not counted, which errs in the user's favour.
/// Sessions and messages use the main pool and keep synchronous commits. The setting is per
/// connection, so `DATABASE_URL` must be a direct or session-mode connection (as sqlx's prepared
/// statements require anyway), not a transaction-mode pooler.
macro_rules! with_counter_conn {
    ($store:expr, $conn:ident => $body:expr) => {
        match (&$store.pool, &$store.counters) {
            ($crate::Pool::Postgres(_), Some($conn)) => $body,
            ($crate::Pool::Postgres($conn), None) => $body,
            ($crate::Pool::Sqlite($conn), _) => $body,
        }
    };
}
pub(crate) use with_counter_conn;

/// A handle on the database; cheap to clone (it wraps a connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
    /// Postgres only: the small pool the counters use (see [`with_counter_conn!`]).
    pub(crate) counters: Option<PgPool>,
    /// The original deployment's tables found at start-up (the quota carries its usage over).
    pub(crate) original: OriginalTables,
}

/// How to open a [`Store`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: u32,
    pub run_migrations: bool,
    /// Postgres only: run in this schema (tests isolate themselves this way).
    pub schema: Option<String>,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions { url: url.into(), max_connections: 16, run_migrations: true, schema: None }
    }
}

impl Store {
    /// Opens the pool for `options.url` (`postgres://…` or `sqlite:…`) and applies the migrations
    /// unless told not to. A SQLite file's directory is created if missing.
    pub async fn connect(options: &StoreOptions) -> Result<Store> {
        let url = options.url.as_str();
        let mut counters = None;
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut connect = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl(redact(url, &e)))?;
            if let Some(schema) = &options.schema {
                connect = connect.options([("search_path", schema.as_str())]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(connect.clone())
                .await?;
            counters = Some(
                PgPoolOptions::new()
                    .max_connections((options.max_connections / 4).max(2))
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy_with(connect.options([("synchronous_commit", "off")])),
            );
            Pool::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(redact(url, &e)))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let file = connect.get_filename();
            // An in-memory database lives and dies with its one connection: never more than one,
            // never recycled.
            let in_memory = file.to_str() == Some(":memory:") || url.contains("mode=memory");
            if let Some(dir) = file.parent()
                && !dir.as_os_str().is_empty()
                && !in_memory
            {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", dir.display())))?;
            }
            let mut pool = SqlitePoolOptions::new()
                .max_connections(if in_memory { 1 } else { options.max_connections.max(1) })
                .acquire_timeout(Duration::from_secs(10));
            if in_memory {
                pool = pool.idle_timeout(None).max_lifetime(None);
            }
            let pool = pool.connect_with(connect).await?;
            Pool::Sqlite(pool)
        } else {
            return Err(StoreError::InvalidUrl("expected postgres://… or sqlite:…".to_string()));
        };
        let original = OriginalTables::detect(&pool).await?;
        let store = Store { pool, counters, original };
        if options.run_migrations {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Applies the pending migrations of this backend.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
            Pool::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, pool => { sqlx::query("SELECT 1").execute(pool).await?; });
        Ok(())
    }

    /// Closes every connection (shutdown).
    pub async fn close(&self) {
        if let Some(counters) = &self.counters {
            counters.close().await;
        }
        with_pool!(self, pool => pool.close().await);
    }
}

/// A database URL without its password, for error messages.
fn redact(url: &str, err: &dyn std::fmt::Display) -> String {
    let shown = match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => format!("{}://…@{}", &url[..scheme_end], &url[at + 1..]),
        _ => url.to_string(),
    };
    format!("{shown}: {err}")
}

static LAST_MICROS: AtomicI64 = AtomicI64::new(0);

/// The current time at microsecond precision, strictly increasing within this process, so rows
/// written one after another (the messages of a turn) never tie on `created_at`.
pub fn now() -> DateTime<Utc> {
    let wall = Utc::now().timestamp_micros();
    let mut last = LAST_MICROS.load(Ordering::Relaxed);
    loop {
        let next = wall.max(last + 1);
        match LAST_MICROS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Utc.timestamp_micros(next).single().unwrap_or_else(Utc::now),
            Err(actual) => last = actual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_strictly_increasing() {
        let mut prev = now();
        for _ in 0..10_000 {
            let t = now();
            assert!(t > prev);
            prev = t;
        }
    }

    /// `synchronous_commit` as seen inside a counter transaction, and then outside it.
    async fn commit_modes(store: &Store) -> Result<(String, String)> {
        let show = "SHOW synchronous_commit";
        let inside: String = with_counter_conn!(store, conn => sqlx::query_scalar(show).fetch_one(conn).await?);
        let outside: String = with_pool!(store, pool => sqlx::query_scalar(show).fetch_one(pool).await?);
        Ok((inside, outside))
    }

    #[tokio::test]
    async fn counters_commit_asynchronously_and_nothing_else_does() {
        let db = crate::testing::TestDatabase::postgres().await.expect("the local Postgres");
        for _ in 0..3 {
            assert_eq!(commit_modes(&db.store).await.unwrap(), ("off".to_string(), "on".to_string()));
        }
    }

    #[test]
    fn redact_hides_passwords() {
        let s = redact("postgres://user:secret@db.example.com/x", &"bad");
        assert!(!s.contains("secret"));
        assert!(s.contains("db.example.com"));
    }
}
