//! Figures of the embeddings work.
//!
//! - Semantic search over one user's 10,000 indexed workouts (1536 dimensions): the search itself
//!   (`UserIndex::top_k`: 8-bit scan with exact re-scoring; the goal is ≤ 5 ms p99), the plain f32
//!   scan it replaces, the full `WorkoutIndex::search` on a warm cache, a cold load from SQLite.
//! - Embedding throughput per batch: `EmbeddingsClient::embed` against the OpenAI stand-in over
//!   loopback HTTP, for batches of 1, 10 and 100 texts; and the whole pipeline (`generate`: text,
//!   hash, request, store) for 2,000 workouts on SQLite.
//!
//! `cargo bench -p host --bench search`. Prints p50/p99/max.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use host::config::OpenAiConfig;
use host::embeddings::index::UserIndex;
use host::embeddings::{Embeddings, EmbeddingsClient, IndexOptions, WorkoutIndex, Workouts};
use serde_json::json;
use stand_ins::openai::OpenAiStandIn;
use store::embeddings::{IndexVersion, NewEmbedding, SourceTable, StoredEmbedding, WorkoutRecord};
use store::testing::TestDatabase;

const WORKOUTS: usize = 10_000;
const DIMS: usize = 1536;
const TOPICS: usize = 300;
const QUERIES: usize = 400;

/// Dense unit-ish vectors clustered around topics, as real embeddings of workouts are: many similar
/// workouts (near-ties) and a few clearly relevant ones per query.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    }

    fn around(&mut self, center: &[f32], noise: f32) -> Vec<f32> {
        center.iter().map(|c| c + noise * self.next()).collect()
    }
}

fn dataset() -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut g = Generator(42);
    let topics: Vec<Vec<f32>> = (0..TOPICS).map(|_| (0..DIMS).map(|_| g.next()).collect()).collect();
    let workouts = (0..WORKOUTS).map(|i| g.around(&topics[i % TOPICS], 0.8)).collect();
    let queries = (0..QUERIES).map(|i| g.around(&topics[(i * 7) % TOPICS], 1.0)).collect();
    (workouts, queries)
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn report(name: &str, h: &Histogram<u64>) {
    let ms = |v: u64| v as f64 / 1000.0;
    println!(
        "{name:<46} n={:<5} p50={:>7.3} ms  p99={:>7.3} ms  max={:>7.3} ms",
        h.len(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
}

fn measure(name: &str, mut run: impl FnMut(usize)) {
    for i in 0..20 {
        run(i); // warm-up
    }
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for i in 0..QUERIES {
        let start = Instant::now();
        run(i);
        h.record(start.elapsed().as_micros().max(1) as u64).expect("record");
    }
    report(name, &h);
}

fn rows(workouts: &[Vec<f32>]) -> Vec<StoredEmbedding> {
    workouts
        .iter()
        .enumerate()
        .map(|(i, v)| StoredEmbedding {
            workout_id: format!("w{i:05}"),
            title: format!("Workout {i}"),
            description: None,
            vector: v.clone(),
        })
        .collect()
}

fn main() {
    println!("semantic search: {WORKOUTS} workouts × {DIMS} dims, one user, top 10 (min similarity 0.0)");
    let (workouts, queries) = dataset();
    let queries: Vec<Vec<f32>> = queries.iter().map(|q| unit(q)).collect();
    let index = UserIndex::build(rows(&workouts), IndexVersion { count: WORKOUTS as i64, last_update: None });

    let mut mismatches = 0;
    for q in &queries {
        if index.top_k(q, 10, 0.0) != index.top_k_exhaustive(q, 10, 0.0) {
            mismatches += 1;
        }
    }
    println!("exactness: {mismatches} of {QUERIES} queries differ from the exhaustive f32 search");

    measure("UserIndex::top_k (the search itself)", |i| {
        std::hint::black_box(index.top_k(&queries[i % QUERIES], 10, 0.0));
    });
    measure("exhaustive f32 scan (for comparison)", |i| {
        std::hint::black_box(index.top_k_exhaustive(&queries[i % QUERIES], 10, 0.0));
    });

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let db = TestDatabase::sqlite().await.expect("sqlite");
        for (i, v) in workouts.iter().enumerate() {
            let id = format!("w{i:05}");
            let title = format!("Workout {i}");
            db.store
                .save_workout_embedding(&NewEmbedding {
                    workout: WorkoutRecord {
                        table: SourceTable::Workouts,
                        workout_id: &id,
                        user_id: "bench-user",
                        title: &title,
                        description: None,
                    },
                    content_hash: "h",
                    model: "bench",
                    vector: v,
                })
                .await
                .expect("save");
        }
        let service = WorkoutIndex::new(
            db.store.clone(),
            IndexOptions { revalidate_after: Duration::from_secs(3600), ..IndexOptions::default() },
        );
        let start = Instant::now();
        let first = service.search("bench-user", &queries[0], 10, 0.0).await.expect("search");
        println!(
            "cold load from SQLite + first search: {:.1} ms ({} hits)",
            start.elapsed().as_secs_f64() * 1000.0,
            first.len()
        );

        let mut h = Histogram::<u64>::new(3).expect("histogram");
        for query in &queries {
            let start = Instant::now();
            std::hint::black_box(service.search("bench-user", query, 10, 0.0).await.expect("search"));
            h.record(start.elapsed().as_micros().max(1) as u64).expect("record");
        }
        report("WorkoutIndex::search (warm cache, async)", &h);

        embedding_throughput().await;
    });
}

/// A workout text of a realistic length (about 150 characters).
fn workout_text(i: usize) -> String {
    format!(
        "Workout {i} | Full body strength with squats, presses and rows | strength | intermediate | quads, back | barbell | 45 minutes"
    )
}

async fn embedding_throughput() {
    println!("\nembedding throughput against the OpenAI stand-in (loopback HTTP, 1536 dims)");
    let openai = OpenAiStandIn::start().await;
    let config = OpenAiConfig {
        api_key: Some(openai.api_key().into()),
        base_url: openai.url(),
        embedding_model: "text-embedding-3-small".into(),
        embedding_batch_size: 2048,
    };
    let client = EmbeddingsClient::new(reqwest::Client::new(), &config);
    for batch in [1usize, 10, 100] {
        let texts: Vec<String> = (0..batch).map(workout_text).collect();
        client.embed(&texts).await.expect("warm-up");
        let requests = if batch == 100 { 60 } else { 200 };
        let mut h = Histogram::<u64>::new(3).expect("histogram");
        let start = Instant::now();
        for _ in 0..requests {
            let t = Instant::now();
            std::hint::black_box(client.embed(&texts).await.expect("embed"));
            h.record(t.elapsed().as_micros().max(1) as u64).expect("record");
        }
        let per_second = (requests * batch) as f64 / start.elapsed().as_secs_f64();
        report(&format!("batch of {batch:>3}: request latency"), &h);
        println!("{:<46} {per_second:>9.0} texts/s", format!("batch of {batch:>3}: throughput"));
    }

    let db = TestDatabase::sqlite().await.expect("sqlite");
    let config = OpenAiConfig { embedding_batch_size: 100, ..config };
    let embeddings = Embeddings::new(db.store.clone(), reqwest::Client::new(), &config);
    let workouts: Vec<_> = (0..2000)
        .map(|i| json!({"id": format!("w{i}"), "profile_id": format!("u{}", i % 20), "title": workout_text(i)}))
        .map(|w| w.as_object().expect("object").clone())
        .collect();
    let start = Instant::now();
    let report_ = embeddings
        .pipeline
        .generate(SourceTable::Workouts, Workouts::Inline { workouts, ids: None })
        .await
        .expect("generate");
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "pipeline generate, 2,000 workouts, batches of 100 (SQLite): {:.2} s, {:.0} workouts/s ({} embedded)",
        elapsed,
        2000.0 / elapsed,
        report_.total_embedded
    );
}
