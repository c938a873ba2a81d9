//! Embeddings on the original schema: the pipeline writes `embedding` and `embedding_content_hash`
//! of the shared `workouts` / `follow_along_workouts` rows (nothing goes to `workout_embeddings`),
//! mapper-api's `match_workouts` RPC finds what it wrote, vectors the original already wrote are not
//! computed again, and `search_workout_library` searches with pgvector for the caller only.

use end_to_end::server::TestServer;
use end_to_end::tool_world::{OTHER_USER, Patience, ToolWorld, USER, expect_ok};
use host::embeddings::text::{build_content, content_hash};
use host::embeddings::{SearchError, Workouts};
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use stand_ins::openai::{DEFAULT_DIMS, OpenAiStandIn, embed_text};
use store::embeddings::SourceTable;
use store::shared_vectors::vector_literal;

use super::*;

const INTERNAL_KEY: &str = "internal-cutover-key-0123456789";

struct Harness {
    server: TestServer,
    openai: OpenAiStandIn,
    original: PgPool,
}

impl Harness {
    async fn start() -> Harness {
        let db = original().await;
        let original = original_client(&db).await;
        let openai = OpenAiStandIn::start().await;
        let (key, url) = (openai.api_key(), openai.url());
        let vars =
            [("INTERNAL_API_KEY", INTERNAL_KEY), ("OPENAI_API_KEY", key.as_str()), ("OPENAI_BASE_URL", url.as_str())];
        let server = TestServer::start(&vars, db).await.expect("the service starts");
        for user in ["user_alice", "user_bob"] {
            sign_up(&original, user).await;
        }
        Harness { server, openai, original }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .server
            .client()
            .post(self.server.url(path))
            .header("X-Internal-Key", INTERNAL_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    async fn progress(&self, table: &str) -> Value {
        let url = self.server.url(&format!("/internal/embeddings/progress/{table}"));
        let response = self.server.client().get(url).header("X-Internal-Key", INTERNAL_KEY).send().await.unwrap();
        response.json().await.unwrap()
    }
}

/// Adds a workout as mapper-api does; its id.
async fn add_workout(pool: &PgPool, owner: &str, title: &str, description: &str) -> String {
    sqlx::query_scalar("INSERT INTO workouts (profile_id, title, description) VALUES ($1, $2, $3) RETURNING id::text")
        .bind(owner)
        .bind(title)
        .bind(description)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The text the original embedded for a workout with this title and description.
fn text_of(title: &str, description: &str) -> String {
    let fields: Map<String, Value> =
        json!({"title": title, "description": description, "workout_data": {}}).as_object().unwrap().clone();
    build_content(&fields)
}

/// `match_workouts` as mapper-api calls it: ids and similarities, best first.
async fn match_workouts(pool: &PgPool, query: &str, profile: Option<&str>) -> Vec<(String, f64)> {
    sqlx::query_as("SELECT id::text, similarity FROM match_workouts($1::vector, 0.5, 10, $2)")
        .bind(vector_literal(&embed_text(query, DEFAULT_DIMS)))
        .bind(profile)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn stored_hash(pool: &PgPool, table: &str, id: &str) -> (Option<String>, bool) {
    sqlx::query_as(&format!("SELECT embedding_content_hash, embedding IS NOT NULL FROM {table} WHERE id::text = $1"))
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn generate_writes_the_shared_columns_where_match_workouts_finds_them() {
    let h = Harness::start().await;
    let legs = add_workout(&h.original, "user_alice", "Leg Day", "Squats and lunges").await;
    add_workout(&h.original, "user_alice", "Quick Cardio", "Bike intervals").await;
    let bobs = add_workout(&h.original, "user_bob", "Leg Day", "Squats and lunges").await;
    let odd = add_workout(&h.original, "user_bob", "Robert'); DROP TABLE workouts;--", "\"quoted\" \\ text").await;

    let (status, report) = h.post("/internal/embeddings/generate", json!({"table": "workouts"})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["total_processed"].clone(), report["total_embedded"].clone()), (json!(4), json!(4)), "{report}");
    assert_eq!(
        stored_hash(&h.original, "workouts", &legs).await,
        (Some(content_hash(&text_of("Leg Day", "Squats and lunges"))), true)
    );
    assert!(stored_hash(&h.original, "workouts", &odd).await.1, "hostile text is only ever a bound value");
    let own_table: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM workout_embeddings").fetch_one(&h.original).await.unwrap();
    assert_eq!(own_table, 0, "the vectors live where mapper-api reads them");
    assert_eq!(h.progress("workouts").await, json!({"table": "workouts", "total": 4, "embedded": 4, "remaining": 0}));

    // mapper-api's library search sees them, scoped to the user.
    let found = match_workouts(&h.original, "leg day squats", Some("user_alice")).await;
    assert_eq!(found.first().map(|f| f.0.as_str()), Some(legs.as_str()), "{found:?}");
    assert!(found.iter().all(|(id, _)| *id != bobs && *id != odd), "{found:?}");
    let everyone: Vec<String> =
        match_workouts(&h.original, "leg day squats", None).await.into_iter().map(|f| f.0).collect();
    assert!(everyone.contains(&legs) && everyone.contains(&bobs), "{everyone:?}");

    // The service's own search is the same query: same rows, same similarities.
    let index = &h.server.state.embeddings.index;
    assert!(index.detect().await.unwrap(), "pgvector detected");
    let query = embed_text("leg day squats", DEFAULT_DIMS);
    let hits = index.search("user_alice", &query, 10, 0.5).await.unwrap();
    let ours: Vec<(String, f64)> = hits.iter().map(|h| (h.workout_id.clone(), f64::from(h.similarity))).collect();
    assert_eq!(ours.len(), found.len());
    for ((a, sa), (b, sb)) in ours.iter().zip(&found) {
        assert_eq!(a, b);
        assert!((sa - sb).abs() < 1e-5, "{sa} vs {sb}");
    }
    assert_eq!(index.count("user_alice").await.unwrap(), 2);

    // Bad queries are refused before reaching the database.
    assert!(matches!(
        index.search("user_alice", &[0.5; 3], 5, 0.0).await,
        Err(SearchError::DimensionMismatch { expected: 1536, got: 3 })
    ));
    assert!(matches!(index.search("user_alice", &[f32::NAN; 1536], 5, 0.0).await, Err(SearchError::InvalidQuery(_))));

    // Nothing is left to embed: a second run computes nothing.
    h.openai.clear_requests();
    let (_, again) = h.post("/internal/embeddings/generate", json!({"table": "workouts"})).await;
    assert_eq!(again["total_processed"], 0, "{again}");
    assert!(h.openai.requests().is_empty());

    // follow_along_workouts has the same columns.
    sqlx::query("INSERT INTO follow_along_workouts (id, user_id, title, description) VALUES ('fa-1', 'user_alice', 'Yoga Flow', 'Stretch')")
        .execute(&h.original)
        .await
        .unwrap();
    let (_, follow) = h.post("/internal/embeddings/generate", json!({"table": "follow_along_workouts"})).await;
    assert_eq!(follow["total_embedded"], 1, "{follow}");
    assert_eq!(
        stored_hash(&h.original, "follow_along_workouts", "fa-1").await,
        (Some(content_hash("Yoga Flow | Stretch")), true)
    );
}

#[tokio::test]
async fn the_webhook_keeps_the_shared_columns_current() {
    let h = Harness::start().await;
    let id = add_workout(&h.original, "user_alice", "Leg Day", "Squats").await;
    let hook = |id: &str| json!({"table": "workouts", "workout_id": id});

    let (status, body) = h.post("/internal/embeddings/webhook", hook(&id)).await;
    assert_eq!((status, body["status"].clone()), (200, json!("embedded")), "{body}");
    let (_, body) = h.post("/internal/embeddings/webhook", hook(&id)).await;
    assert_eq!(body["status"], "unchanged");

    sqlx::query("UPDATE workouts SET title = 'Hill Sprints', description = 'Run uphill' WHERE id::text = $1")
        .bind(&id)
        .execute(&h.original)
        .await
        .unwrap();
    // mapper-api may call twice at once for one save: both land, and the row ends consistent.
    let calls = (0..8).map(|_| h.post("/internal/embeddings/webhook", hook(&id)));
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
        assert!(body["status"] == "embedded" || body["status"] == "unchanged", "{body}");
    }
    assert_eq!(
        stored_hash(&h.original, "workouts", &id).await,
        (Some(content_hash(&text_of("Hill Sprints", "Run uphill"))), true)
    );
    let found = match_workouts(&h.original, "hill sprints run uphill", Some("user_alice")).await;
    assert_eq!(found.first().map(|f| f.0.as_str()), Some(id.as_str()));

    // Emptied: the stale vector goes, so the search can no longer find the old text.
    sqlx::query("UPDATE workouts SET title = '', description = NULL WHERE id::text = $1")
        .bind(&id)
        .execute(&h.original)
        .await
        .unwrap();
    let (_, body) = h.post("/internal/embeddings/webhook", hook(&id)).await;
    assert_eq!(body["status"], "skipped");
    assert_eq!(stored_hash(&h.original, "workouts", &id).await, (None, false));

    sqlx::query("DELETE FROM workouts WHERE id::text = $1").bind(&id).execute(&h.original).await.unwrap();
    let (status, body) = h.post("/internal/embeddings/webhook", hook(&id)).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn workouts_the_original_embedded_are_not_embedded_again() {
    let h = Harness::start().await;
    let id = add_workout(&h.original, "user_alice", "Leg Day", "Squats").await;
    let text = text_of("Leg Day", "Squats");
    sqlx::query("UPDATE workouts SET embedding = $1::vector, embedding_content_hash = $2 WHERE id::text = $3")
        .bind(vector_literal(&embed_text(&text, DEFAULT_DIMS)))
        .bind(content_hash(&text))
        .bind(&id)
        .execute(&h.original)
        .await
        .unwrap();
    let (_, all) = h.post("/internal/embeddings/generate", json!({"table": "workouts"})).await;
    assert_eq!(all["total_processed"], 0, "{all}");
    let (_, named) = h.post("/internal/embeddings/generate", json!({"table": "workouts", "workout_ids": [id]})).await;
    assert_eq!((named["total_processed"].clone(), named["total_skipped"].clone()), (json!(1), json!(1)), "{named}");
    assert!(h.openai.requests().is_empty(), "no OpenAI call on the day of the switch");
    assert_eq!(h.progress("workouts").await["embedded"], 1);
}

#[tokio::test]
async fn search_workout_library_searches_with_pgvector_for_the_caller_only() {
    let t = ToolWorld::start_over(original().await, Patience::ANSWERING_SERVICES).await;
    let pool = original_client(&t.db).await;
    for user in [USER, OTHER_USER] {
        sign_up(&pool, user).await;
    }
    let legs = add_workout(&pool, USER, "Leg Day", "Squats").await;
    add_workout(&pool, USER, "Quick Cardio", "Bike intervals").await;
    let others = add_workout(&pool, OTHER_USER, "Leg Day", "Squats").await;
    let report = t.embeddings.pipeline.generate(SourceTable::Workouts, Workouts::Table { ids: None }).await.unwrap();
    assert_eq!(report.total_embedded, 3);
    assert!(t.embeddings.index.detect().await.unwrap());

    let outcome = t.call_as(USER, "search_workout_library", json!({"query": "leg day squats"})).await;
    let found: Value = serde_json::from_str(&expect_ok(&outcome, "search_workout_library")).unwrap();
    let ids: Vec<&str> =
        found["workouts"].as_array().unwrap().iter().map(|w| w["workout_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [legs.as_str()], "{found}");
    assert!(t.mapper.requests().is_empty(), "answered by the semantic search");

    let outcome = t.call_as(OTHER_USER, "search_workout_library", json!({"query": "leg day squats"})).await;
    let found: Value = serde_json::from_str(&expect_ok(&outcome, "search_workout_library")).unwrap();
    assert_eq!(found["workouts"][0]["workout_id"], others);
}
