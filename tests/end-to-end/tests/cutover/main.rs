//! The cutover onto the original production database (issue 15): a copy of the original service's
//! Supabase schema (`store/fixtures/original_schema.sql`: its tables, triggers, RPCs and the
//! `vector` extension) on a real Postgres with pgvector (`make pgvector`, `PGVECTOR_DATABASE_URL`),
//! with this service's migrations applied over it as the deploy does. Each test gets a database of
//! its own.
//!
//! - [`migrations`]: the migrations apply over the original schema, change none of its objects
//!   incompatibly, and apply again;
//! - [`sessions`]: sessions and messages written by either service are read by the other;
//! - [`usage`]: the month's usage starts from `ai_request_limits` and stays exact under contention;
//! - [`embeddings`]: vectors land in `workouts.embedding`, where `match_workouts` finds them, and
//!   `search_workout_library` searches them with pgvector.

mod embeddings;
mod migrations;
mod sessions;
mod usage;

use sqlx::PgPool;
use store::testing::TestDatabase;

/// A fresh copy of the original schema with this service's migrations applied.
async fn original() -> TestDatabase {
    TestDatabase::original_schema().await.expect("the original schema on the Postgres with pgvector")
}

/// A connection pool of the original's own (what the Python service, mapper-api or Supabase's
/// dashboard use beside this service).
async fn original_client(db: &TestDatabase) -> PgPool {
    PgPool::connect(&db.url).await.expect("connect to the original-schema database")
}

/// A user as the original deployment has them: a `profiles` row (mapper-api creates it at sign-up;
/// the chat tables refer to it) and, as the seeded beta period requires, `chat_beta_access`.
async fn sign_up(pool: &PgPool, user: &str) {
    sqlx::query("INSERT INTO profiles (id) VALUES ($1) ON CONFLICT DO NOTHING").bind(user).execute(pool).await.unwrap();
    sqlx::query(
        "INSERT INTO feature_flags (flag_key, scope, user_id, value) VALUES ('chat_beta_access', 'user', $1, 'true') \
         ON CONFLICT DO NOTHING",
    )
    .bind(user)
    .execute(pool)
    .await
    .unwrap();
}

/// Rows of a query as JSON objects (`row_to_json`), for comparing what the original reads.
async fn json_rows(pool: &PgPool, sql: &str, bind: &str) -> Vec<serde_json::Value> {
    let texts: Vec<String> = sqlx::query_scalar(&format!("SELECT row_to_json(r)::text FROM ({sql}) r"))
        .bind(bind)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    texts.iter().map(|t| serde_json::from_str(t).unwrap()).collect()
}
