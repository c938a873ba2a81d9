//! The embeddings pipeline end to end: the `/internal/embeddings/*` endpoints of the real service over
//! HTTP, a real OpenAI stand-in, and the real database on both backends (SQLite and Postgres), with
//! workouts delivered inline or read from a shared `workouts` table; and the user-scoped search the
//! plugins reach through the host.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use end_to_end::on_both_backends;
use host::app::App;
use host::config::Config;
use host::embeddings::{Embeddings, EmbeddingsClient, IndexOptions, RetryPolicy, WorkoutIndex};
use serde_json::{Value, json};
use stand_ins::openai::{DEFAULT_DIMS, Failure, OpenAiStandIn, embed_text};
use store::Backend;
use store::testing::TestDatabase;

const INTERNAL_KEY: &str = "internal-test-key-0123456789";

/// The service under test, its database and its OpenAI stand-in.
struct Harness {
    db: TestDatabase,
    openai: OpenAiStandIn,
    base: String,
    http: reqwest::Client,
    embeddings: Embeddings,
}

/// Retries fast enough for tests: 2 attempts, 10 ms apart.
fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
    }
}

impl Harness {
    async fn start(backend: Backend) -> Harness {
        Harness::start_with(backend, |_| {}).await
    }

    async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Harness {
        let db = TestDatabase::new(backend).await.expect("test database");
        let openai = OpenAiStandIn::start().await;
        let env: HashMap<&str, String> = HashMap::from([
            ("ENVIRONMENT", "test".to_string()),
            ("INTERNAL_API_KEY", INTERNAL_KEY.to_string()),
            ("OPENAI_API_KEY", openai.api_key()),
            ("OPENAI_BASE_URL", openai.url()),
            ("EMBEDDING_BATCH_SIZE", "3".to_string()),
            ("PLUGINS_WATCH", "false".to_string()),
        ]);
        let mut config = Config::from_lookup(&|name| env.get(name).cloned()).expect("config");
        adjust(&mut config);
        let config = Arc::new(config);
        let mut app = App::with_store(config.clone(), db.store.clone()).await.expect("app");
        let client = EmbeddingsClient::new(reqwest::Client::new(), &config.openai).with_retry(quick_retry());
        let embeddings = Embeddings::with_client(db.store.clone(), client, IndexOptions::default());
        app.state.embeddings = embeddings.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(app.serve(listener));
        Harness { db, openai, base, http: reqwest::Client::new(), embeddings }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("X-Internal-Key", INTERNAL_KEY)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("X-Internal-Key", INTERNAL_KEY)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn generate(&self, body: Value) -> Value {
        let (status, report) = self.post("/internal/embeddings/generate", body).await;
        assert_eq!(status, 200, "{report}");
        report
    }

    /// The ids `user` finds for `query`, best first.
    async fn search(&self, user: &str, query: &str, limit: usize) -> Vec<String> {
        let embedding = embed_text(query, DEFAULT_DIMS);
        let hits = self.embeddings.index.search(user, &embedding, limit, -1.0).await.expect("search");
        hits.into_iter().map(|h| h.workout_id).collect()
    }

    /// Runs SQL against the test database (to create and fill the shared Supabase tables).
    async fn sql(&self, statements: &[&str]) {
        match self.db.store.backend() {
            Backend::Postgres => {
                let schema = self.db.schema.clone().expect("schema");
                let options = sqlx::postgres::PgConnectOptions::from_str(&self.db.url)
                    .expect("url")
                    .options([("search_path", schema.as_str())]);
                let pool = sqlx::PgPool::connect_with(options).await.expect("connect");
                for statement in statements {
                    sqlx::query(statement).execute(&pool).await.expect(statement);
                }
                pool.close().await;
            }
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.db.url).await.expect("connect");
                for statement in statements {
                    sqlx::query(statement).execute(&pool).await.expect(statement);
                }
                pool.close().await;
            }
        }
    }

    /// Creates the shared `workouts` table: Supabase's columns plus the content columns the original
    /// pipeline read (`follow_along_workouts` is left as Supabase has it, without them).
    async fn create_shared_tables(&self) {
        match self.db.store.backend() {
            Backend::Postgres => {
                self.sql(&[
                    "CREATE TABLE workouts (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), profile_id text NOT NULL, \
                     workout_data jsonb NOT NULL DEFAULT '{}', sources text[] DEFAULT '{}', device text NOT NULL DEFAULT 'web', \
                     title text, description text, workout_type text, target_muscle_groups text[], equipment text[], \
                     duration_minutes int, difficulty_level text, tags text[] DEFAULT '{}', created_at timestamptz DEFAULT now())",
                    "CREATE TABLE follow_along_workouts (id text PRIMARY KEY, user_id text NOT NULL, source text NOT NULL DEFAULT 'instagram', \
                     source_url text NOT NULL, title text NOT NULL, description text, created_at timestamptz NOT NULL DEFAULT now())",
                ])
                .await
            }
            Backend::Sqlite => {
                self.sql(&[
                    "CREATE TABLE workouts (id TEXT PRIMARY KEY, profile_id TEXT NOT NULL, workout_data TEXT NOT NULL DEFAULT '{}', \
                     title TEXT, description TEXT, workout_type TEXT, target_muscle_groups TEXT, equipment TEXT, \
                     duration_minutes INTEGER, difficulty_level TEXT)",
                    "CREATE TABLE follow_along_workouts (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, source_url TEXT NOT NULL, \
                     title TEXT NOT NULL, description TEXT)",
                ])
                .await
            }
        }
    }

    /// Inserts a row into the shared `workouts` table (an empty `title` inserts a row with no text at all).
    async fn insert_workout(&self, id: &str, user: &str, title: &str, muscles: &[&str], duration: Option<i32>) {
        let (title, data) = if title.is_empty() {
            ("NULL".to_string(), "{}")
        } else {
            (format!("'{title}'"), r#"{"notes": "from the table"}"#)
        };
        let muscles_pg =
            format!("ARRAY[{}]::text[]", muscles.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(","));
        let muscles_json = serde_json::to_string(muscles).expect("json");
        let duration = duration.map_or("NULL".to_string(), |d| d.to_string());
        let statement = match self.db.store.backend() {
            Backend::Postgres => format!(
                "INSERT INTO workouts (id, profile_id, title, target_muscle_groups, duration_minutes, workout_data) \
                 VALUES ('{id}', '{user}', {title}, {muscles_pg}, {duration}, '{data}'::jsonb)"
            ),
            Backend::Sqlite => format!(
                "INSERT INTO workouts (id, profile_id, title, target_muscle_groups, duration_minutes, workout_data) \
                 VALUES ('{id}', '{user}', {title}, '{muscles_json}', {duration}, '{data}')"
            ),
        };
        self.sql(&[&statement]).await;
    }
}

fn inline(id: &str, user: &str, title: &str, description: &str) -> Value {
    json!({"id": id, "profile_id": user, "title": title, "description": description})
}

fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-a000-{n:012}")
}

// ---------------------------------------------------------------------------------------------
// generate
// ---------------------------------------------------------------------------------------------

async fn generate_embeds_inline_workouts_and_reports_counts(backend: Backend) {
    let h = Harness::start(backend).await;
    let report = h
        .generate(json!({"table": "workouts", "workouts": [
            {"id": "w1", "profile_id": "alice", "title": "Leg Day", "description": "Heavy squats",
             "target_muscle_groups": ["quads", "glutes"], "duration_minutes": 45, "workout_data": {"goals": ["strength"]}},
            inline("w2", "alice", "Quick Cardio", "Bike intervals"),
            inline("w3", "alice", "Upper Body Push", "Bench and overhead press"),
            {"id": "w4", "profile_id": "alice", "title": "", "description": null},
            {"id": 5, "user_id": "bob", "title": "Bob's Leg Day", "description": "Squats"},
        ]}))
        .await;
    assert_eq!(report["total_processed"], 5);
    assert_eq!(report["total_embedded"], 4);
    assert_eq!(report["total_skipped"], 1);
    assert_eq!(report["errors"], json!([]));
    assert!(report["duration_seconds"].as_f64().is_some_and(|d| d >= 0.0));

    // The original's text and request shape: batches of EMBEDDING_BATCH_SIZE (3), floats, bearer key.
    let requests = h.openai.requests();
    assert_eq!(requests.iter().map(|r| r.embedding_inputs().len()).collect::<Vec<_>>(), vec![3, 1]);
    assert_eq!(requests[0].embedding_inputs()[0], "Leg Day | Heavy squats | quads, glutes | 45 minutes | strength");
    for r in &requests {
        assert_eq!(r.json()["model"], "text-embedding-3-small");
        assert_eq!(r.json()["encoding_format"], "float");
        assert_eq!(r.header("authorization"), Some(format!("Bearer {}", h.openai.api_key()).as_str()));
    }
    // The stand-in answers in reverse order: results are mapped back by index.
    assert_eq!(h.search("alice", "Leg Day Heavy squats quads glutes", 1).await, vec!["w1"]);
    assert_eq!(h.search("alice", "quick cardio bike intervals", 1).await, vec!["w2"]);

    let (_, progress) = h.get("/internal/embeddings/progress/workouts").await;
    assert_eq!(progress, json!({"table": "workouts", "total": 5, "embedded": 4, "remaining": 1}));
}

async fn generate_skips_workouts_whose_text_did_not_change(backend: Backend) {
    let h = Harness::start(backend).await;
    let workouts = json!([inline("w1", "alice", "Leg Day", "Squats"), inline("w2", "alice", "Cardio", "Bike")]);
    let first = h.generate(json!({"workouts": workouts})).await;
    assert_eq!((first["total_embedded"].as_u64(), first["total_skipped"].as_u64()), (Some(2), Some(0)));
    let sent = h.openai.input_count();

    let again = h.generate(json!({"workouts": workouts})).await;
    assert_eq!(again["total_processed"], 2);
    assert_eq!(again["total_embedded"], 0);
    assert_eq!(again["total_skipped"], 2);
    assert_eq!(h.openai.input_count(), sent, "unchanged workouts are not sent to OpenAI again");

    let changed =
        json!([inline("w1", "alice", "Leg Day", "Squats and lunges"), inline("w2", "alice", "Cardio", "Bike")]);
    let third = h.generate(json!({"workouts": changed, "workout_ids": ["w1"]})).await;
    assert_eq!((third["total_processed"].as_u64(), third["total_embedded"].as_u64()), (Some(1), Some(1)));
    assert_eq!(h.openai.last_request().embedding_inputs(), vec!["Leg Day | Squats and lunges"]);
}

async fn generate_reads_the_shared_workouts_table_in_pages(backend: Backend) {
    let h = Harness::start(backend).await;
    h.create_shared_tables().await;
    h.insert_workout(&uuid(1), "alice", "Leg Day", &["quads"], Some(45)).await;
    h.insert_workout(&uuid(2), "alice", "", &[], None).await; // nothing to embed: skipped, never stalls paging
    h.insert_workout(&uuid(3), "alice", "Core Blast", &["abs"], Some(20)).await;
    h.insert_workout(&uuid(4), "bob", "Bob Run", &[], Some(30)).await;
    h.insert_workout(&uuid(5), "bob", "Bob Swim", &[], None).await;
    h.insert_workout(&uuid(6), "bob", "Bob Row", &["back"], None).await;
    h.insert_workout(&uuid(7), "alice", "Stretch", &[], None).await;

    let report = h.generate(json!({"table": "workouts"})).await;
    assert_eq!(report["total_processed"], 7, "{report}");
    assert_eq!(report["total_embedded"], 6);
    assert_eq!(report["total_skipped"], 1);
    let texts: Vec<String> = h.openai.requests().iter().flat_map(|r| r.embedding_inputs()).collect();
    assert!(texts.contains(&"Leg Day | quads | 45 minutes | from the table".to_string()), "{texts:?}");

    let (_, progress) = h.get("/internal/embeddings/progress/workouts").await;
    assert_eq!(progress, json!({"table": "workouts", "total": 7, "embedded": 6, "remaining": 1}));

    // Without ids only rows lacking an embedding are read: nothing left but the empty one.
    let again = h.generate(json!({})).await;
    assert_eq!((again["total_processed"].as_u64(), again["total_embedded"].as_u64()), (Some(1), Some(0)));
    // Named rows are all considered; unchanged ones are skipped by hash.
    let named = h.generate(json!({"workout_ids": [uuid(1), uuid(3), "no-such-id"]})).await;
    assert_eq!(named["total_processed"], 2);
    assert_eq!(named["total_skipped"], 2);

    assert_eq!(h.search("alice", "leg day quads", 10).await.first(), Some(&uuid(1)));
    assert!(h.search("alice", "Bob Run", 10).await.iter().all(|id| ![uuid(4), uuid(5), uuid(6)].contains(id)));
}

async fn follow_along_table_without_content_columns_is_embedded_from_title_and_description(backend: Backend) {
    let h = Harness::start(backend).await;
    h.create_shared_tables().await;
    h.sql(&["INSERT INTO follow_along_workouts (id, user_id, source_url, title, description) \
             VALUES ('fa-1', 'alice', 'https://instagram.com/p/x', 'Mobility Flow', 'Hips and shoulders')"])
        .await;
    let report = h.generate(json!({"table": "follow_along_workouts"})).await;
    assert_eq!(report["total_embedded"], 1, "{report}");
    assert_eq!(h.openai.requests()[0].embedding_inputs(), vec!["Mobility Flow | Hips and shoulders"]);
    let (_, progress) = h.get("/internal/embeddings/progress/follow_along_workouts").await;
    assert_eq!(progress, json!({"table": "follow_along_workouts", "total": 1, "embedded": 1, "remaining": 0}));
    // The search covers `workouts` only (ids must be schedulable), as the original match_workouts.
    assert!(h.search("alice", "mobility flow", 5).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// webhook
// ---------------------------------------------------------------------------------------------

async fn webhook_embeds_then_reports_unchanged_skipped_and_not_found(backend: Backend) {
    let h = Harness::start(backend).await;
    h.create_shared_tables().await;
    h.insert_workout(&uuid(1), "alice", "Leg Day", &["quads"], Some(45)).await;
    let hook = |id: String| json!({"table": "workouts", "workout_id": id});

    let (status, body) = h.post("/internal/embeddings/webhook", hook(uuid(1))).await;
    assert_eq!((status, body), (200, json!({"status": "embedded", "workout_id": uuid(1), "error": null})));
    let (status, body) = h.post("/internal/embeddings/webhook", hook(uuid(1))).await;
    assert_eq!((status, body["status"].clone()), (200, json!("unchanged")));
    assert_eq!(h.openai.requests().len(), 1);

    // Updated in the table: embedded again, and the search sees the new text at once.
    h.sql(&[&format!("UPDATE workouts SET title = 'Glute Bridge Day' WHERE id = '{}'", uuid(1))]).await;
    assert_eq!(h.search("alice", "leg day", 1).await, vec![uuid(1)]);
    let (_, body) = h.post("/internal/embeddings/webhook", hook(uuid(1))).await;
    assert_eq!(body["status"], "embedded");
    let hits =
        h.embeddings.index.search("alice", &embed_text("glute bridge", DEFAULT_DIMS), 1, -1.0).await.expect("search");
    assert_eq!(hits[0].title, "Glute Bridge Day");

    // Emptied: skipped, and no longer searchable.
    h.sql(&[&format!("UPDATE workouts SET title = NULL, target_muscle_groups = NULL, duration_minutes = NULL, workout_data = '{{}}' WHERE id = '{}'", uuid(1))]).await;
    let (_, body) = h.post("/internal/embeddings/webhook", hook(uuid(1))).await;
    assert_eq!(body["status"], "skipped");
    assert!(h.search("alice", "glute bridge", 5).await.is_empty());

    // Deleted from the table: 404 with the original detail, and gone from the index.
    h.insert_workout(&uuid(2), "alice", "Core", &[], None).await;
    h.post("/internal/embeddings/webhook", hook(uuid(2))).await;
    assert_eq!(h.search("alice", "core", 5).await, vec![uuid(2)]);
    h.sql(&[&format!("DELETE FROM workouts WHERE id = '{}'", uuid(2))]).await;
    let (status, body) = h.post("/internal/embeddings/webhook", hook(uuid(2))).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"detail": format!("Workout {} not found in workouts", uuid(2))}));
    assert!(h.search("alice", "core", 5).await.is_empty());
}

async fn webhook_takes_the_workout_inline_without_a_shared_table(backend: Backend) {
    let h = Harness::start(backend).await;
    let (status, body) = h
        .post(
            "/internal/embeddings/webhook",
            json!({"workout_id": "w9", "workout": {"profile_id": "alice", "title": "Kettlebell Swings"}}),
        )
        .await;
    assert_eq!((status, body["status"].clone()), (200, json!("embedded")));
    assert_eq!(h.search("alice", "kettlebell", 1).await, vec!["w9"]);

    let (status, _) = h.post("/internal/embeddings/webhook", json!({"workout_id": "w10"})).await;
    assert_eq!(status, 404, "no table and no inline workout");
    let (status, _) = h
        .post(
            "/internal/embeddings/webhook",
            json!({"workout_id": "w9", "workout": {"id": "other", "profile_id": "a", "title": "x"}}),
        )
        .await;
    assert_eq!(status, 422, "the inline workout must be the one named");
    let (status, _) =
        h.post("/internal/embeddings/webhook", json!({"workout_id": "w9", "workout": {"title": "x"}})).await;
    assert_eq!(status, 422, "an inline workout needs an owner");
}

// ---------------------------------------------------------------------------------------------
// OpenAI failures
// ---------------------------------------------------------------------------------------------

async fn rate_limits_and_server_errors_are_retried(backend: Backend) {
    let h = Harness::start(backend).await;
    h.openai.fail_next(Failure::RateLimited { retry_after: Some(0) }, 1);
    let report = h.generate(json!({"workouts": [inline("w1", "alice", "Leg Day", "")]})).await;
    assert_eq!(report["total_embedded"], 1, "{report}");
    assert_eq!(h.openai.requests().len(), 2);

    h.openai.fail_next(Failure::Status(503), 1);
    let report = h.generate(json!({"workouts": [inline("w2", "alice", "Cardio", "")]})).await;
    assert_eq!(report["total_embedded"], 1, "{report}");
}

async fn openai_failures_are_reported_per_workout_and_lose_nothing(backend: Backend) {
    let h = Harness::start(backend).await;
    let workouts = json!([inline("w1", "alice", "Leg Day", ""), inline("w2", "alice", "Cardio", "")]);

    h.openai.fail_next(Failure::Status(500), 2);
    let report = h.generate(json!({"workouts": workouts})).await;
    assert_eq!(report["total_embedded"], 0);
    assert_eq!(
        report["errors"],
        json!([
            {"workout_id": "w1", "error": "OpenAI embeddings unavailable after 2 attempt(s): HTTP 500"},
            {"workout_id": "w2", "error": "OpenAI embeddings unavailable after 2 attempt(s): HTTP 500"},
        ])
    );
    let (_, progress) = h.get("/internal/embeddings/progress/workouts").await;
    assert_eq!(progress["remaining"], 2, "failed workouts stay counted as remaining");

    h.openai.fail_next(Failure::Malformed, 1);
    let report = h.generate(json!({"workouts": workouts})).await;
    assert!(
        report["errors"][0]["error"].as_str().unwrap().starts_with("OpenAI embeddings response malformed"),
        "{report}"
    );
    h.openai.fail_next(Failure::MissingItem, 1);
    let report = h.generate(json!({"workouts": workouts})).await;
    assert_eq!(report["errors"][0]["error"], "OpenAI embeddings response malformed: 1 embeddings for 2 inputs");

    // Once OpenAI answers, the same request embeds both.
    let report = h.generate(json!({"workouts": workouts})).await;
    assert_eq!(report["total_embedded"], 2, "{report}");
    let (_, progress) = h.get("/internal/embeddings/progress/workouts").await;
    assert_eq!(progress["remaining"], 0);
}

async fn a_batch_rejected_as_a_whole_is_retried_text_by_text(backend: Backend) {
    let h = Harness::start(backend).await;
    h.openai.fail_next(Failure::Status(400), 1);
    let report = h.generate(json!({"workouts": [inline("w1", "a", "One", ""), inline("w2", "a", "Two", "")]})).await;
    assert_eq!(report["total_embedded"], 2, "{report}");
    assert_eq!(h.openai.requests().iter().map(|r| r.embedding_inputs().len()).collect::<Vec<_>>(), vec![2, 1, 1]);
}

async fn a_wrong_key_is_reported_without_the_key(backend: Backend) {
    let secret = "sk-live-very-secret-key-123";
    let h = Harness::start_with(backend, |c| c.openai.api_key = Some(secret.into())).await;
    let report = h.generate(json!({"workouts": [inline("w1", "alice", "Leg Day", "")]})).await;
    let error = report["errors"][0]["error"].as_str().expect("an error").to_string();
    assert!(error.starts_with("OpenAI embeddings request rejected (401)"), "{error}");
    assert!(!error.contains("sk-") && !error.contains("secret"), "{error}");
    assert_eq!(h.openai.requests().len(), 1, "a 401 is not retried");

    let (status, body) = h
        .post(
            "/internal/embeddings/webhook",
            json!({"workout_id": "w1", "workout": {"profile_id": "alice", "title": "Leg Day"}}),
        )
        .await;
    assert_eq!(status, 502);
    let detail = body["detail"].as_str().expect("detail");
    assert!(detail.contains("401") && !detail.contains("secret"), "{detail}");
}

async fn without_an_openai_key_generation_is_unavailable(backend: Backend) {
    let h = Harness::start_with(backend, |c| c.openai.api_key = None).await;
    let (status, body) = h.post("/internal/embeddings/generate", json!({"workouts": []})).await;
    assert_eq!((status, body), (503, json!({"detail": "OpenAI API key not configured"})));
    let (status, _) = h.post("/internal/embeddings/webhook", json!({"workout_id": "w1"})).await;
    assert_eq!(status, 503);
    let (status, _) = h.get("/internal/embeddings/progress/workouts").await;
    assert_eq!(status, 200, "progress needs no OpenAI key");
}

// ---------------------------------------------------------------------------------------------
// auth and validation
// ---------------------------------------------------------------------------------------------

async fn the_internal_key_guards_every_route(backend: Backend) {
    let h = Harness::start(backend).await;
    let url = format!("{}/internal/embeddings/progress/workouts", h.base);
    let missing = h.http.get(&url).send().await.expect("request");
    assert_eq!(missing.status(), 422);
    let wrong = h.http.get(&url).header("X-Internal-Key", "nope").send().await.expect("request");
    assert_eq!(wrong.status(), 403);
    assert_eq!(wrong.json::<Value>().await.expect("json"), json!({"detail": "Invalid internal API key"}));
    let post = h
        .http
        .post(format!("{}/internal/embeddings/generate", h.base))
        .header("X-Internal-Key", "nope")
        .json(&json!({"table": "bogus"}))
        .send()
        .await
        .expect("request");
    assert_eq!(post.status(), 403, "the key is checked before the body");

    let unconfigured = Harness::start_with(backend, |c| c.auth.internal_api_key = None).await;
    let (status, body) = unconfigured.get("/internal/embeddings/progress/workouts").await;
    assert_eq!((status, body), (503, json!({"detail": "Internal API key not configured"})));
}

async fn unknown_tables_and_malformed_bodies_are_refused(backend: Backend) {
    let h = Harness::start(backend).await;
    let (status, _) = h.get("/internal/embeddings/progress/profiles").await;
    assert_eq!(status, 422);
    let (status, _) = h.post("/internal/embeddings/generate", json!({"table": "profiles"})).await;
    assert_eq!(status, 422);
    let (status, _) = h.post("/internal/embeddings/generate", json!({"workouts": "not a list"})).await;
    assert_eq!(status, 422);
    let (status, _) = h.post("/internal/embeddings/webhook", json!({"table": "workouts"})).await;
    assert_eq!(status, 422, "workout_id is required");
    let report = h.generate(json!({"workouts": [{"title": "no id"}, {"id": "x", "title": "no owner"}]})).await;
    assert_eq!(report["total_processed"], 2);
    assert_eq!(
        report["errors"],
        json!([{"workout_id": "", "error": "workout has no id"}, {"workout_id": "x", "error": "workout has no user_id or profile_id"}])
    );
    assert!(h.openai.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// search
// ---------------------------------------------------------------------------------------------

async fn a_users_search_never_returns_another_users_workouts(backend: Backend) {
    let h = Harness::start(backend).await;
    h.generate(json!({"workouts": [
        inline("a-legs", "alice", "Leg Day", "Squats and lunges"),
        inline("a-core", "alice", "Core Blast", "Planks"),
        inline("b-legs", "bob", "Leg Day Squats and lunges", "Leg Day squats lunges"),
    ]}))
    .await;
    // Bob's workout is the closest to the query, yet Alice never sees it.
    let alice = h.search("alice", "leg day squats lunges", 50).await;
    assert_eq!(alice, vec!["a-legs", "a-core"]);
    assert_eq!(h.search("bob", "leg day squats lunges", 50).await, vec!["b-legs"]);
    assert!(h.search("carol", "leg day", 50).await.is_empty());
    assert_eq!(h.embeddings.index.count("alice").await.expect("count"), 2);
    assert_eq!(h.embeddings.index.count("bob").await.expect("count"), 1);
    assert_eq!(h.embeddings.index.count("carol").await.expect("count"), 0);
}

async fn search_results_are_ranked_filtered_and_validated(backend: Backend) {
    let h = Harness::start(backend).await;
    h.generate(json!({"workouts": [
        inline("w1", "alice", "Leg Day", "squats"),
        inline("w2", "alice", "Leg Day Light", "squats and stretching"),
        inline("w3", "alice", "Swimming", "pool laps"),
    ]}))
    .await;
    let query = embed_text("leg day squats", DEFAULT_DIMS);
    let hits = h.embeddings.index.search("alice", &query, 10, 0.3).await.expect("search");
    assert_eq!(hits.iter().map(|m| m.workout_id.as_str()).collect::<Vec<_>>(), vec!["w1", "w2"]);
    assert!(hits[0].similarity > hits[1].similarity && hits[1].similarity >= 0.3);
    assert_eq!(hits[0].title, "Leg Day");
    assert_eq!(hits[0].description.as_deref(), Some("squats"));
    assert_eq!(h.embeddings.index.search("alice", &query, 1, -1.0).await.expect("search").len(), 1);

    let wrong_dims = h.embeddings.index.search("alice", &[1.0, 0.0], 5, 0.0).await;
    assert!(wrong_dims.unwrap_err().to_string().contains("dimensions"));
    assert!(h.embeddings.index.search("alice", &vec![0.0; DEFAULT_DIMS], 5, 0.0).await.is_err());
}

async fn another_instance_sees_writes_after_revalidation(backend: Backend) {
    let h = Harness::start(backend).await;
    h.generate(json!({"workouts": [inline("w1", "alice", "Leg Day", "")]})).await;
    // A second instance's index over the same database, trusting its cache for no time at all.
    let other = WorkoutIndex::new(
        h.db.store.clone(),
        IndexOptions { revalidate_after: Duration::ZERO, ..IndexOptions::default() },
    );
    let query = embed_text("rowing machine", DEFAULT_DIMS);
    assert_eq!(other.search("alice", &query, 5, -1.0).await.expect("search").len(), 1);
    h.generate(json!({"workouts": [inline("w2", "alice", "Rowing Machine", "")]})).await;
    let hits = other.search("alice", &query, 5, -1.0).await.expect("search");
    assert_eq!(hits[0].workout_id, "w2");
}

async fn concurrent_generations_of_the_same_workouts_agree(backend: Backend) {
    let h = Arc::new(Harness::start(backend).await);
    let workouts: Vec<Value> =
        (0..12).map(|i| inline(&format!("w{i:02}"), "alice", &format!("Workout {i}"), "drills")).collect();
    let runs = (0..4).map(|_| {
        let h = h.clone();
        let body = json!({"workouts": workouts});
        tokio::spawn(async move { h.generate(body).await })
    });
    for run in futures::future::join_all(runs).await {
        let report = run.expect("task");
        assert_eq!(report["errors"], json!([]), "{report}");
        assert_eq!(report["total_processed"], 12);
    }
    let (_, progress) = h.get("/internal/embeddings/progress/workouts").await;
    assert_eq!(progress, json!({"table": "workouts", "total": 12, "embedded": 12, "remaining": 0}));
    assert_eq!(h.embeddings.index.count("alice").await.expect("count"), 12);
}

on_both_backends!(
    generate_embeds_inline_workouts_and_reports_counts,
    generate_skips_workouts_whose_text_did_not_change,
    generate_reads_the_shared_workouts_table_in_pages,
    follow_along_table_without_content_columns_is_embedded_from_title_and_description,
    webhook_embeds_then_reports_unchanged_skipped_and_not_found,
    webhook_takes_the_workout_inline_without_a_shared_table,
    rate_limits_and_server_errors_are_retried,
    openai_failures_are_reported_per_workout_and_lose_nothing,
    a_batch_rejected_as_a_whole_is_retried_text_by_text,
    a_wrong_key_is_reported_without_the_key,
    without_an_openai_key_generation_is_unavailable,
    the_internal_key_guards_every_route,
    unknown_tables_and_malformed_bodies_are_refused,
    a_users_search_never_returns_another_users_workouts,
    search_results_are_ranked_filtered_and_validated,
    another_instance_sees_writes_after_revalidation,
    concurrent_generations_of_the_same_workouts_agree,
);
