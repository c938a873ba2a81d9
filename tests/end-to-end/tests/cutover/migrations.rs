//! This service's migrations over the original schema: they apply, they leave every object of the
//! original as it was (they only add columns to `chat_messages`, two indexes and tables of their
//! own), and they apply again, both as recorded (nothing to do) and from scratch over objects that
//! already exist (a restored database without `_sqlx_migrations`).

use std::collections::BTreeSet;

use end_to_end::clock_window::{Window, within_one_window};
use sqlx::PgPool;
use store::testing::TestDatabase;

use super::*;

/// The original's tables.
const ORIGINAL_TABLES: [&str; 9] = [
    "profiles",
    "chat_sessions",
    "chat_messages",
    "ai_request_limits",
    "feature_flags",
    "chat_feedback",
    "function_rate_limits",
    "workouts",
    "follow_along_workouts",
];

/// Every definition of the original's objects that a client could depend on, as text.
#[derive(Debug, PartialEq)]
struct Objects {
    columns: BTreeSet<String>,
    constraints: BTreeSet<String>,
    indexes: BTreeSet<String>,
    triggers: BTreeSet<String>,
    functions: BTreeSet<String>,
    policies: BTreeSet<String>,
    row_security: BTreeSet<String>,
    extensions: BTreeSet<String>,
}

async fn set(pool: &PgPool, sql: &str) -> BTreeSet<String> {
    let tables: Vec<String> = ORIGINAL_TABLES.iter().map(|t| t.to_string()).collect();
    let rows: Vec<String> =
        sqlx::query_scalar(sql).bind(&tables).fetch_all(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().collect()
}

async fn objects(pool: &PgPool) -> Objects {
    Objects {
        columns: set(
            pool,
            "SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
             || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END \
             || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped",
        )
        .await,
        constraints: set(
            pool,
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text = ANY($1)",
        )
        .await,
        indexes: set(pool, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1)").await,
        triggers: set(
            pool,
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY($1)",
        )
        .await,
        functions: set(
            pool,
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.pronamespace IN ('public'::regnamespace, \
             'auth'::regnamespace) AND cardinality($1::text[]) > 0",
        )
        .await,
        policies: set(
            pool,
            "SELECT tablename || ' ' || policyname || ' ' || cmd || ' ' || roles::text || ' ' || coalesce(qual, '') \
             || ' ' || coalesce(with_check, '') FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY($1)",
        )
        .await,
        row_security: set(
            pool,
            "SELECT relname || ' ' || relrowsecurity FROM pg_class \
             WHERE relnamespace = 'public'::regnamespace AND relname = ANY($1)",
        )
        .await,
        extensions: set(
            pool,
            "SELECT extname || ' ' || extnamespace::regnamespace::text FROM pg_extension WHERE cardinality($1::text[]) > 0",
        )
        .await,
    }
}

fn added(before: &BTreeSet<String>, after: &BTreeSet<String>) -> BTreeSet<String> {
    after.difference(before).cloned().collect()
}

fn removed(before: &BTreeSet<String>, after: &BTreeSet<String>) -> BTreeSet<String> {
    before.difference(after).cloned().collect()
}

/// What the migrations may add to the original's tables, and nothing else.
fn expected_additions(before: &Objects, after: &Objects) {
    let columns: BTreeSet<String> = added(&before.columns, &after.columns);
    let expected: BTreeSet<String> = [
        "chat_messages.input_tokens integer",
        "chat_messages.output_tokens integer",
        "chat_messages.cache_read_input_tokens integer",
        "chat_messages.cache_creation_input_tokens integer",
        "chat_messages.incomplete boolean not null default false",
        "chat_messages.stop_reason text",
        "chat_messages.transcript jsonb",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(columns, expected, "columns added to the original's tables");
    let indexes: Vec<String> = added(&before.indexes, &after.indexes).into_iter().collect();
    assert_eq!(indexes.len(), 2, "{indexes:#?}");
    assert!(indexes.iter().any(|i| i.contains("idx_chat_sessions_user_updated")), "{indexes:#?}");
    assert!(indexes.iter().any(|i| i.contains("idx_function_rate_limits_window")), "{indexes:#?}");
}

fn nothing_of_the_original_changed(before: &Objects, after: &Objects) {
    for (what, b, a) in [
        ("columns", &before.columns, &after.columns),
        ("constraints", &before.constraints, &after.constraints),
        ("indexes", &before.indexes, &after.indexes),
    ] {
        assert_eq!(removed(b, a), BTreeSet::new(), "{what} of the original changed or dropped");
    }
    assert_eq!(before.constraints, after.constraints, "no constraint added to the original's tables");
    assert_eq!(before.triggers, after.triggers);
    assert_eq!(before.functions, after.functions, "the RPCs are untouched");
    assert_eq!(before.policies, after.policies);
    assert_eq!(before.row_security, after.row_security, "row level security was on everywhere already");
    assert_eq!(before.extensions, after.extensions);
    assert!(after.extensions.contains("vector extensions"), "{:?}", after.extensions);
}

async fn applied_versions(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn migrations_apply_over_the_original_schema_change_nothing_of_it_and_apply_again() {
    let (db, url) = TestDatabase::original_schema_unmigrated().await.expect("the Postgres with pgvector");
    let pool = PgPool::connect(&url).await.unwrap();
    let before = objects(&pool).await;
    assert!(before.functions.iter().any(|f| f.contains("match_workouts")), "the fixture has the original's RPCs");

    db.store.migrate().await.expect("the migrations apply over the original schema");
    let after = objects(&pool).await;
    nothing_of_the_original_changed(&before, &after);
    expected_additions(&before, &after);
    let versions = applied_versions(&pool).await;
    assert!(!versions.is_empty());

    // Again: recorded as applied, nothing to do.
    db.store.migrate().await.expect("re-applying is a no-op");
    assert_eq!(objects(&pool).await, after);
    assert_eq!(applied_versions(&pool).await, versions);

    // From scratch over what exists (a restore without the bookkeeping table): every statement is
    // idempotent, so each migration runs again without error and changes nothing.
    sqlx::query("DROP TABLE _sqlx_migrations").execute(&pool).await.unwrap();
    db.store.migrate().await.expect("every migration re-runs over existing objects");
    assert_eq!(objects(&pool).await, after);
    assert_eq!(applied_versions(&pool).await, versions);
}

#[tokio::test]
async fn the_original_rpcs_still_work_after_the_migrations() {
    // The hourly function limit counts within one UTC hour.
    within_one_window(Window::Hour, the_original_rpcs_still_work).await
}

async fn the_original_rpcs_still_work() {
    let db = original().await;
    let pool = original_client(&db).await;
    sign_up(&pool, "user_rpc_1").await;
    let (count, created): (i32, bool) =
        sqlx::query_as("SELECT * FROM increment_ai_request_limit('user_rpc_1')").fetch_one(&pool).await.unwrap();
    assert_eq!((count, created), (1, true));
    let (count, created): (i32, bool) =
        sqlx::query_as("SELECT * FROM increment_ai_request_limit('user_rpc_1')").fetch_one(&pool).await.unwrap();
    assert_eq!((count, created), (2, false));

    let flags: serde_json::Value =
        sqlx::query_scalar("SELECT get_user_feature_flags('user_rpc_1')").fetch_one(&pool).await.unwrap();
    assert_eq!(flags["chat_beta_access"], true);
    assert_eq!(flags["chat_rate_limit_tier"], "free");
    // The service reads the same merge from the same rows.
    let service = db.store.feature_flags("user_rpc_1").await.unwrap();
    assert_eq!(serde_json::to_value(&service.0).unwrap(), flags);

    let now = chrono::Utc::now();
    let window = store::function_limits::hour_window(now);
    for (allowed, calls) in [(true, 1), (true, 2), (false, 2)] {
        let row: (bool, i32, i32) =
            sqlx::query_as("SELECT * FROM check_and_increment_rate_limit('user_rpc_1', 'sync_strava', 2, $1)")
                .bind(window)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(row, (allowed, calls, 2));
    }
    // The service's hourly limit counts in the very same row.
    let decision = db.store.hit_function_limit("user_rpc_1", "sync_strava", 3, now).await.unwrap();
    assert_eq!((decision.allowed, decision.count), (true, 3));
}
