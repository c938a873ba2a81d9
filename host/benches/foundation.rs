//! Figures of the service foundation: the latency of a quota `reserve` (one atomic statement,
//! committed asynchronously on Postgres) on SQLite and on the local Postgres, and how many JWTs one
//! core verifies per second (Clerk RS256 with the key cached, mobile pairing HS256), through the
//! same `Authenticator` requests use.
//!
//! Run with `cargo bench -p host --bench foundation`. Postgres is `TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`); each run uses a throwaway schema.

use std::time::{Duration, Instant};

use chrono::Utc;
use end_to_end::server::test_config;
use hdrhistogram::Histogram;
use host::auth::Authenticator;
use host::config::QuotaConfig;
use host::quota;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use stand_ins::clerk::{ClerkStandIn, mint_mobile};
use store::testing::{BACKENDS, TestDatabase};
use store::{Backend, FeatureFlags};

const RESERVES: usize = 5_000;
const WARMUP: usize = 500;
const CONCURRENT_TASKS: usize = 8;
const VERIFY_FOR: Duration = Duration::from_secs(3);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        println!(
            "== quota reserve (one INSERT … ON CONFLICT DO UPDATE … WHERE count < limit RETURNING; \
             on Postgres over connections that commit asynchronously) =="
        );
        for backend in BACKENDS {
            reserve_latency(backend).await;
        }
        println!("\n== JWT verification, one task (per core) ==");
        jwt_throughput().await;
    });
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// One line per measurement; the histogram holds nanoseconds.
fn report(label: &str, h: &Histogram<u64>, elapsed: Duration) {
    let ms = |ns: u64| ns as f64 / 1_000_000.0;
    println!(
        "{label:<46} n={:<6} p50={:>7.3} ms  p99={:>7.3} ms  p99.9={:>7.3} ms  max={:>7.3} ms  {:>9.0}/s",
        h.len(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
        h.len() as f64 / elapsed.as_secs_f64(),
    );
}

async fn reserve_latency(backend: Backend) {
    let db = TestDatabase::new(backend).await.unwrap_or_else(|e| panic!("{backend:?} database: {e}"));
    let store = db.store.clone();
    let limits = QuotaConfig { free: 1_000_000, paid: 1_000_000 };
    let flags = FeatureFlags::default();
    let now = Utc::now();
    // Users are spread over 1000 rows, like a month of real traffic.
    let user = |i: usize| format!("user_bench_{}", i % 1000);

    for i in 0..WARMUP {
        quota::reserve(&store, &limits, &flags, &user(i), now).await.expect("reserve").expect("admitted");
    }
    let mut sequential = histogram();
    let started = Instant::now();
    for i in 0..RESERVES {
        let t = Instant::now();
        quota::reserve(&store, &limits, &flags, &user(i), now).await.expect("reserve").expect("admitted");
        sequential.record(t.elapsed().as_nanos() as u64).expect("record");
    }
    report(&format!("{backend:?} reserve, sequential (admitted)"), &sequential, started.elapsed());

    // At the limit the statement updates nothing and a second read reports the usage.
    let tight = QuotaConfig { free: 1, paid: 1 };
    quota::reserve(&store, &tight, &flags, "user_full", now).await.expect("reserve").expect("admitted");
    let mut rejected = histogram();
    let started = Instant::now();
    for _ in 0..RESERVES / 5 {
        let t = Instant::now();
        quota::reserve(&store, &tight, &flags, "user_full", now).await.expect("reserve").expect_err("rejected");
        rejected.record(t.elapsed().as_nanos() as u64).expect("record");
    }
    report(&format!("{backend:?} reserve, sequential (at the limit)"), &rejected, started.elapsed());

    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENT_TASKS)
        .map(|task| {
            let store = store.clone();
            let flags = flags.clone();
            tokio::spawn(async move {
                let mut h = histogram();
                for i in 0..RESERVES / CONCURRENT_TASKS {
                    let t = Instant::now();
                    let name = format!("user_bench_{}", (task * 7919 + i) % 1000);
                    quota::reserve(&store, &limits, &flags, &name, now).await.expect("reserve").expect("admitted");
                    h.record(t.elapsed().as_nanos() as u64).expect("record");
                }
                h
            })
        })
        .collect();
    let mut concurrent = histogram();
    for task in tasks {
        concurrent.add(task.await.expect("task")).expect("merge");
    }
    report(&format!("{backend:?} reserve, {CONCURRENT_TASKS} concurrent tasks"), &concurrent, started.elapsed());
}

async fn jwt_throughput() {
    let clerk = ClerkStandIn::start().await;
    let domain = clerk.domain();
    let mobile_secret = "a-mobile-pairing-secret-of-32-chars-or-more";
    let config = test_config(&[("CLERK_DOMAIN", &domain), ("JWT_SECRET", mobile_secret)]).expect("config");
    let auth =
        Authenticator::new(&config.auth, config.environment, &config.server.allowed_origins, reqwest::Client::new());

    let clerk_token = clerk.mint("user_bench", serde_json::json!({"exp": Utc::now().timestamp() + 3600}));
    let mobile_token = mint_mobile(mobile_secret, "user_bench", serde_json::json!({}));
    for (label, token) in
        [("Clerk RS256 (2048-bit, cached JWKS key)", clerk_token), ("mobile pairing HS256", mobile_token)]
    {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).expect("header"));
        auth.authenticate(&headers).await.expect("the benchmark token is valid");
        let mut h = histogram();
        let started = Instant::now();
        while started.elapsed() < VERIFY_FOR {
            let t = Instant::now();
            let user = auth.authenticate(&headers).await.expect("valid");
            h.record(t.elapsed().as_nanos() as u64).expect("record");
            std::hint::black_box(user);
        }
        report(label, &h, started.elapsed());
    }
    assert_eq!(clerk.fetch_count(), 1, "every Clerk verification used the cached key");
}
