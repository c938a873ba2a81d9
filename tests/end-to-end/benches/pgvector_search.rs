//! The figure of issue 15's search: p50/p99 latency of one user's `search_workout_library` lookup
//! (top 10 by cosine similarity, 1536 dimensions) with 10,000 and 100,000 workouts, with pgvector
//! in Postgres (the original schema's `workouts.embedding` and its HNSW index, queried as
//! `WorkoutIndex` does on that database) next to the in-process index (SQLite's
//! `workout_embeddings`, scanned in memory). Recall is the pgvector answer's overlap with the exact
//! top 10 the in-process index returns (HNSW is approximate).
//!
//! `make pgvector plugins && cargo bench -p end-to-end --bench pgvector_search`; sizes from
//! `PGVECTOR_BENCH_SIZES` (default `10000,100000`). Vectors are seeded pseudo-random unit vectors;
//! each query is a stored vector plus noise.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use host::embeddings::{IndexOptions, WorkoutIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use store::embeddings::{NewEmbedding, SourceTable, WorkoutRecord};
use store::shared_vectors::vector_literal;
use store::testing::TestDatabase;

const DIMS: usize = 1536;
const USER: &str = "user_bench";
const SEARCHES: usize = 300;
const LIMIT: usize = 10;

fn unit(rng: &mut StdRng) -> Vec<f32> {
    let v: Vec<f32> = (0..DIMS).map(|_| rng.random::<f32>() - 0.5).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn queries(vectors: &[Vec<f32>], rng: &mut StdRng) -> Vec<Vec<f32>> {
    (0..SEARCHES)
        .map(|_| {
            let base = &vectors[rng.random_range(0..vectors.len())];
            base.iter().map(|x| x + (rng.random::<f32>() - 0.5) * 0.02).collect()
        })
        .collect()
}

/// Loads the vectors into the original schema's `workouts`, then builds its HNSW index as the
/// original's migration defines it (a backfill builds it once, as an operator would).
async fn load_pgvector(db: &TestDatabase, vectors: &[Vec<f32>]) -> Vec<String> {
    let pool = PgPool::connect(&db.url).await.expect("connect");
    sqlx::query("INSERT INTO profiles (id) VALUES ($1)").bind(USER).execute(&pool).await.unwrap();
    sqlx::query("DROP INDEX idx_workouts_embedding").execute(&pool).await.unwrap();
    let mut ids = Vec::with_capacity(vectors.len());
    for (batch_no, batch) in vectors.chunks(250).enumerate() {
        let literals: Vec<String> = batch.iter().map(|v| vector_literal(v)).collect();
        let batch_ids: Vec<String> = sqlx::query_scalar(
            "INSERT INTO workouts (profile_id, title, embedding, embedding_content_hash) \
             SELECT $1, 'Workout ' || ($3 + n), v::vector, md5(v) FROM unnest($2::text[]) WITH ORDINALITY AS t(v, n) \
             RETURNING id::text",
        )
        .bind(USER)
        .bind(&literals)
        .bind((batch_no * 250) as i64)
        .fetch_all(&pool)
        .await
        .expect("insert");
        ids.extend(batch_ids);
    }
    let started = Instant::now();
    sqlx::raw_sql(
        "SET maintenance_work_mem = '2GB'; \
         CREATE INDEX idx_workouts_embedding ON workouts USING hnsw (embedding vector_cosine_ops) WHERE embedding IS NOT NULL; \
         ANALYZE workouts;",
    )
    .execute(&pool)
    .await
    .expect("HNSW index");
    println!("  pgvector: {} rows loaded, HNSW index built in {:.1} s", vectors.len(), started.elapsed().as_secs_f64());
    pool.close().await;
    ids
}

async fn load_in_process(db: &TestDatabase, vectors: &[Vec<f32>]) {
    for (i, vector) in vectors.iter().enumerate() {
        let id = format!("w{i:06}");
        let workout = WorkoutRecord {
            table: SourceTable::Workouts,
            workout_id: &id,
            user_id: USER,
            title: "Workout",
            description: None,
        };
        let row = NewEmbedding { workout, content_hash: "h", model: "bench", vector };
        db.store.save_workout_embedding(&row).await.expect("save");
    }
}

/// Latencies of every query, and each answer's workout ids.
async fn run(index: &WorkoutIndex, queries: &[Vec<f32>]) -> (Histogram<u64>, Vec<Vec<String>>) {
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    let mut answers = Vec::with_capacity(queries.len());
    for query in queries {
        let started = Instant::now();
        let hits = index.search(USER, query, LIMIT, -1.0).await.expect("search");
        histogram.record(started.elapsed().as_micros() as u64).unwrap();
        answers.push(hits.into_iter().map(|h| h.workout_id).collect());
    }
    (histogram, answers)
}

fn line(name: &str, n: usize, h: &Histogram<u64>) {
    let ms = |us: u64| Duration::from_micros(us).as_secs_f64() * 1000.0;
    println!(
        "  {name:<11} n={n:>6}  p50={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms  ({} searches)",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
        h.len()
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::var("PGVECTOR_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".to_string())
        .split(',')
        .map(|s| s.trim().parse().expect("PGVECTOR_BENCH_SIZES: comma-separated counts"))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async {
        println!("one user's top-{LIMIT} workout search, {DIMS} dimensions, sequential, one client");
        for n in sizes {
            let mut rng = StdRng::seed_from_u64(15);
            let vectors: Vec<Vec<f32>> = (0..n).map(|_| unit(&mut rng)).collect();
            let queries = queries(&vectors, &mut rng);

            let pg = TestDatabase::original_schema().await.expect("the Postgres with pgvector (make pgvector)");
            let ids = load_pgvector(&pg, &vectors).await;
            let pg_index = WorkoutIndex::new(pg.store.clone(), IndexOptions::default());
            assert!(pg_index.detect().await.expect("detect"), "pgvector detected on the original schema");
            run(&pg_index, &queries[..10]).await; // warm the buffer cache
            let (pg_latency, pg_answers) = run(&pg_index, &queries).await;

            let sqlite = TestDatabase::sqlite().await.expect("sqlite");
            load_in_process(&sqlite, &vectors).await;
            let options = IndexOptions { memory_budget_bytes: 2 << 30, ..IndexOptions::default() };
            let local = WorkoutIndex::new(sqlite.store.clone(), options);
            let started = Instant::now();
            local.search(USER, &queries[0], LIMIT, -1.0).await.expect("first search");
            println!(
                "  in-process: first search (loads the user's vectors) {:.0} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
            let (local_latency, local_answers) = run(&local, &queries).await;

            // Row i is `w{i:06}` in SQLite and ids[i] in Postgres.
            let rows: std::collections::HashMap<&String, usize> =
                ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
            let position = |id: &String| rows.get(id).copied();
            let mut overlap = 0;
            for (pg_answer, exact) in pg_answers.iter().zip(&local_answers) {
                let exact: Vec<usize> = exact.iter().map(|w| w[1..].parse().unwrap()).collect();
                overlap += pg_answer.iter().filter_map(position).filter(|i| exact.contains(i)).count();
            }
            line("pgvector", n, &pg_latency);
            line("in-process", n, &local_latency);
            println!(
                "  pgvector recall@{LIMIT} against the exact answer: {:.3}",
                overlap as f64 / (SEARCHES * LIMIT) as f64
            );
        }
    });
}
