//! The repository API on both backends (SQLite and the local Postgres): per-function hourly
//! limits, tool state, message rows, migrations over the original Supabase tables, the admin audit
//! log ([`audit_log`]), the plugins' settings and secrets ([`plugin_values`]), and the Postgres tables
//! closed to Supabase's public roles ([`lock_down`]).

mod audit_log;
mod lock_down;
mod plugin_values;
mod state_quota;

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;
use store::function_limits::hour_window;
use store::testing::{BACKENDS, TestDatabase};
use store::{Backend, NewMessage, Role, StatePut, StateQuota, Store};

/// The quota of the tests that are not about it.
const QUOTA: StateQuota = StateQuota { max_keys: 1000, max_bytes: 8 << 20 };

pub(crate) async fn database(backend: Backend) -> TestDatabase {
    TestDatabase::new(backend).await.unwrap_or_else(|e| panic!("{backend:?} test database: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn function_limits_admit_exactly_the_limit_per_hour() {
    for backend in BACKENDS {
        let db = database(backend).await;
        let at = Utc.with_ymd_and_hms(2026, 3, 10, 14, 59, 0).unwrap();
        let hits: Vec<_> = (0..12)
            .map(|_| {
                let store = db.store.clone();
                tokio::spawn(async move { store.hit_function_limit("user_sync", "sync_strava", 3, at).await.unwrap() })
            })
            .collect();
        let decisions: Vec<_> = futures::future::join_all(hits).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(decisions.iter().filter(|d| d.allowed).count(), 3, "{backend:?}");
        for d in decisions.iter().filter(|d| !d.allowed) {
            assert_eq!((d.count, d.limit, d.retry_after_seconds), (3, 3, 60), "{backend:?}");
        }
        let other = db.store.hit_function_limit("user_sync", "sync_garmin", 3, at).await.unwrap();
        assert!(other.allowed && other.count == 1, "{backend:?}: functions are counted apart");
        let next_hour =
            db.store.hit_function_limit("user_sync", "sync_strava", 3, at + Duration::minutes(1)).await.unwrap();
        assert!(next_hour.allowed && next_hour.count == 1, "{backend:?}: a new hour starts from zero");
        assert_eq!(hour_window(at + Duration::minutes(1)), Utc.with_ymd_and_hms(2026, 3, 10, 15, 0, 0).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tool_state_is_scoped_expires_and_is_taken_once() {
    for backend in BACKENDS {
        let db = database(backend).await;
        let s = &db.store;
        let now = Utc::now();
        let later = now + Duration::minutes(15);
        assert_eq!(
            s.tool_state_put("mapper", "user_a", "preview:1", "{\"w\":1}", later, QUOTA).await.unwrap(),
            StatePut::Stored
        );
        assert_eq!(s.tool_state_get("mapper", "user_a", "preview:1", now).await.unwrap().as_deref(), Some("{\"w\":1}"));
        assert_eq!(
            s.tool_state_get("mapper", "user_b", "preview:1", now).await.unwrap(),
            None,
            "{backend:?}: per user"
        );
        assert_eq!(
            s.tool_state_get("calendar", "user_a", "preview:1", now).await.unwrap(),
            None,
            "{backend:?}: per plugin"
        );
        assert_eq!(
            s.tool_state_get("mapper", "user_a", "preview:1", later).await.unwrap(),
            None,
            "{backend:?}: expired"
        );

        assert_eq!(
            s.tool_state_put("mapper", "user_a", "preview:1", "{\"w\":2}", later, QUOTA).await.unwrap(),
            StatePut::Stored
        );
        assert_eq!(s.tool_state_get("mapper", "user_a", "preview:1", now).await.unwrap().as_deref(), Some("{\"w\":2}"));

        let takes: Vec<_> = (0..10)
            .map(|_| {
                let store = s.clone();
                tokio::spawn(async move { store.tool_state_take("mapper", "user_a", "preview:1", now).await.unwrap() })
            })
            .collect();
        let taken: Vec<_> = futures::future::join_all(takes).await.into_iter().filter_map(Result::unwrap).collect();
        assert_eq!(taken, vec!["{\"w\":2}".to_string()], "{backend:?}: exactly one take wins");

        assert_eq!(
            s.tool_state_put("mapper", "user_a", "old", "x", now - Duration::seconds(1), QUOTA).await.unwrap(),
            StatePut::Stored
        );
        assert_eq!(s.tool_state_put("mapper", "user_a", "fresh", "y", later, QUOTA).await.unwrap(), StatePut::Stored);
        assert_eq!(s.tool_state_purge_expired(now).await.unwrap(), 1, "{backend:?}");
        s.tool_state_delete("mapper", "user_a", "fresh").await.unwrap();
        s.tool_state_delete("mapper", "user_a", "missing").await.unwrap();
        assert_eq!(s.tool_state_get("mapper", "user_a", "fresh", now).await.unwrap(), None);
    }
}

#[tokio::test]
async fn messages_keep_their_fields_and_move_the_session() {
    for backend in BACKENDS {
        let db = database(backend).await;
        let s = &db.store;
        let session = s.create_session("user_a", "New Chat").await.unwrap();
        let calls =
            json!([{"id": "toolu_1", "name": "search_workout_library", "input": {"query": "légs"}, "result": "[]"}]);
        s.insert_message(&NewMessage {
            session_id: session.id,
            user_id: "user_a".into(),
            role: Some(Role::Assistant),
            content: Some("Here — ünïcode ✓".into()),
            tool_calls: Some(calls.clone()),
            model: Some("claude-sonnet-4-20250514".into()),
            latency_ms: Some(1234),
            input_tokens: Some(100),
            output_tokens: Some(20),
            cache_read_input_tokens: Some(7),
            cache_creation_input_tokens: Some(3),
            incomplete: true,
            ..Default::default()
        })
        .await
        .unwrap();
        let page = s.message_page(session.id, 10, None).await.unwrap();
        let m = &page.messages[0];
        assert_eq!(m.role, "assistant");
        assert_eq!(m.content.as_deref(), Some("Here — ünïcode ✓"));
        assert_eq!(m.tool_calls.as_ref().map(|j| &j.0), Some(&calls), "{backend:?}");
        assert_eq!((m.input_tokens, m.output_tokens, m.tokens_used), (Some(100), Some(20), Some(120)));
        assert_eq!((m.cache_read_input_tokens, m.cache_creation_input_tokens), (Some(7), Some(3)));
        assert!(m.incomplete);
        let moved = s.get_session(session.id, "user_a").await.unwrap().unwrap();
        assert!(moved.updated_at > session.updated_at, "{backend:?}: a message moves updated_at");
        assert_eq!(moved.created_at, session.created_at, "{backend:?}: timestamps round-trip exactly");
        s.set_session_title(session.id, "Leg day").await.unwrap();
        assert_eq!(s.get_session(session.id, "user_a").await.unwrap().unwrap().title.as_deref(), Some("Leg day"));
    }
}

#[tokio::test]
async fn migrations_are_idempotent() {
    for backend in BACKENDS {
        let db = database(backend).await;
        db.store.migrate().await.unwrap();
        db.store.migrate().await.unwrap();
        db.store.ping().await.unwrap();
    }
}

#[tokio::test]
async fn migrations_extend_the_original_supabase_tables() {
    use sqlx::Connection;
    // A schema holding the chat tables as the original service's migrations left them.
    let url = store::testing::postgres_url();
    let schema = format!("orig_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    for statement in [
        format!("CREATE SCHEMA {schema}"),
        format!(
            "CREATE TABLE {schema}.chat_sessions (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id text NOT NULL, \
             title text, metadata jsonb DEFAULT '{{}}', created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now())"
        ),
        format!(
            "CREATE TABLE {schema}.chat_messages (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), \
             session_id uuid NOT NULL REFERENCES {schema}.chat_sessions (id) ON DELETE CASCADE, user_id text NOT NULL, \
             role text CHECK (role IN ('user','assistant','system','tool')), content text, tool_calls jsonb, \
             tool_results jsonb, model text, tokens_used int, latency_ms int, created_at timestamptz DEFAULT now())"
        ),
        format!(
            "INSERT INTO {schema}.chat_sessions (id, user_id, title) VALUES ('8d7c0e0a-3b8e-4c1e-9f57-0c7c1d5a2f10', 'user_old', 'Old chat')"
        ),
    ] {
        sqlx::query(&statement).execute(&mut admin).await.unwrap();
    }
    let options = store::StoreOptions { schema: Some(schema.clone()), ..store::StoreOptions::new(&url) };
    let store = Store::connect(&options).await.unwrap();
    let old = uuid::Uuid::parse_str("8d7c0e0a-3b8e-4c1e-9f57-0c7c1d5a2f10").unwrap();
    assert_eq!(store.get_session(old, "user_old").await.unwrap().unwrap().title.as_deref(), Some("Old chat"));
    store
        .insert_message(&NewMessage {
            session_id: old,
            user_id: "user_old".into(),
            role: Some(Role::Assistant),
            content: Some("reply".into()),
            tool_use_id: None,
            input_tokens: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(store.message_page(old, 5, None).await.unwrap().messages[0].input_tokens, Some(5));
    store.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin).await.unwrap();
}

#[tokio::test]
async fn nul_characters_are_stored_as_replacement_characters_on_both_backends() {
    for backend in BACKENDS {
        let db = database(backend).await;
        let s = &db.store;
        let session = s.create_session("user_nul", "a\0title").await.unwrap();
        s.insert_message(&NewMessage {
            session_id: session.id,
            user_id: "user_nul".into(),
            role: Some(Role::Assistant),
            content: Some("model\0text".into()),
            tool_calls: Some(json!([{"name": "echo", "input": {"te\0xt": "x\0y"}}])),
            transcript: Some(json!([{"role": "assistant", "content": [{"type": "text", "text": "model\0text"}]}])),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{backend:?}: a NUL must not fail the write: {e}"));
        let m = &s.message_page(session.id, 10, None).await.unwrap().messages[0];
        assert_eq!(m.content.as_deref(), Some("model\u{FFFD}text"), "{backend:?}");
        assert_eq!(
            m.tool_calls.as_ref().unwrap().0,
            json!([{"name": "echo", "input": {"te\u{FFFD}xt": "x\u{FFFD}y"}}])
        );
        assert_eq!(m.transcript.as_ref().unwrap().0[0]["content"][0]["text"], "model\u{FFFD}text");
        let title = s.get_session(session.id, "user_nul").await.unwrap().unwrap().title;
        assert_eq!(title.as_deref(), Some("a\u{FFFD}title"), "{backend:?}");
    }
}
