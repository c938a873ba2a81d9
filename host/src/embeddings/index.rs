//! The user-scoped semantic search behind the plugins' `search-workouts` host call: the `limit`
//! workouts of one user whose embedding is most similar (cosine) to a query embedding.
//!
//! Each user's vectors are loaded lazily from the store into memory, normalised, and kept until a write
//! for that user invalidates them (or, for writes by another instance, until a cheap version check
//! sees a change). A search scans an 8-bit copy of the vectors (a quarter of the memory traffic of f32,
//! which is what bounds a scan of 10,000 × 1536 floats), with a per-row bound on the quantisation
//! error, then re-scores the few rows that can still be in the top `limit` with the exact f32 vectors.
//! The answer is therefore exactly the f32 cosine top-k, at the cost of an 8-bit scan. Users only ever
//! see their own rows: the cache is keyed by user and loads `WHERE user_id = $1`.
//!
//! When the shared `workouts` table has pgvector columns (the original Supabase deployment, where
//! the pipeline writes the vectors: see [`super::placement`]), the search runs in Postgres instead,
//! with `match_workouts`' semantics and its HNSW index, and nothing is cached here. Which of the two
//! is detected once, at start-up ([`WorkoutIndex::detect`]) or at the first search.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use store::embeddings::{IndexVersion, SourceSchema, SourceTable, StoredEmbedding};
use store::{Store, StoreError};

/// The table whose workouts the search covers: `workouts`, like the original `match_workouts`, so
/// every id found can be scheduled with `add_workout_to_calendar`.
pub const SEARCHED_TABLE: SourceTable = SourceTable::Workouts;
/// The most results one search returns (the WIT contract).
pub const MAX_LIMIT: usize = 50;

/// One workout found by a search (the runtime's type: the host hands it to the plugin as is).
pub use tools::WorkoutMatch;

/// Why a search was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("query embedding has {got} dimensions; the index has {expected}")]
    DimensionMismatch { expected: usize, got: usize },
    #[error("invalid query: {0}")]
    InvalidQuery(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tuning of the in-memory cache.
#[derive(Clone, Copy, Debug)]
pub struct IndexOptions {
    /// Memory the cached users may take together; least recently used users are dropped beyond it
    /// (the most recent one always stays).
    pub memory_budget_bytes: usize,
    /// How long a cached user is trusted before the store is asked whether it changed (writes by
    /// this process invalidate at once; this catches writes by other instances).
    pub revalidate_after: Duration,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions { memory_budget_bytes: 256 << 20, revalidate_after: Duration::from_secs(10) }
    }
}

/// The search index of every user; share it as an `Arc`.
pub struct WorkoutIndex {
    store: Store,
    options: IndexOptions,
    cache: Mutex<Cache>,
    /// `workouts` with its pgvector columns, when this database has them (detected once).
    pgvector: tokio::sync::OnceCell<Option<SourceSchema>>,
}

#[derive(Default)]
struct Cache {
    users: HashMap<String, Slot>,
    /// Bumped by every invalidation, so a load that raced a write is not cached.
    generations: HashMap<String, u64>,
    bytes: usize,
    clock: u64,
}

struct Slot {
    index: Arc<UserIndex>,
    last_used: u64,
    checked_at: Instant,
}

impl WorkoutIndex {
    pub fn new(store: Store, options: IndexOptions) -> Arc<WorkoutIndex> {
        Arc::new(WorkoutIndex { store, options, cache: Mutex::new(Cache::default()), pgvector: Default::default() })
    }

    /// Whether searches run in Postgres with pgvector (the shared `workouts` table has an
    /// `embedding` vector column and `embedding_content_hash`); detected on the first call.
    pub async fn detect(&self) -> Result<bool, StoreError> {
        Ok(self.pgvector_table().await?.is_some())
    }

    async fn pgvector_table(&self) -> Result<Option<&SourceSchema>, StoreError> {
        let found = self
            .pgvector
            .get_or_try_init(|| async {
                let table = self.store.source_table(SEARCHED_TABLE).await?;
                Ok::<_, StoreError>(table.filter(|t| t.vector_dims.is_some()))
            })
            .await?;
        Ok(found.as_ref())
    }

    /// The search in Postgres (`query` is already a unit vector).
    async fn search_pgvector(
        &self,
        table: &SourceSchema,
        user_id: &str,
        query: &[f32],
        limit: usize,
        min_similarity: f32,
    ) -> Result<Vec<WorkoutMatch>, SearchError> {
        let expected = table.vector_dims.unwrap_or(query.len());
        if query.len() != expected {
            return Err(SearchError::DimensionMismatch { expected, got: query.len() });
        }
        let hits = self.store.search_shared_embeddings(table, user_id, query, limit as i64, min_similarity).await?;
        Ok(hits
            .into_iter()
            .map(|hit| WorkoutMatch {
                workout_id: hit.workout_id,
                title: hit.title,
                description: hit.description,
                similarity: hit.similarity,
            })
            .collect())
    }

    /// The `limit` (1..=50) workouts of `user_id` most similar to `query` with a similarity of at
    /// least `min_similarity`, best first.
    pub async fn search(
        &self,
        user_id: &str,
        query: &[f32],
        limit: usize,
        min_similarity: f32,
    ) -> Result<Vec<WorkoutMatch>, SearchError> {
        if !min_similarity.is_finite() {
            return Err(SearchError::InvalidQuery("min_similarity must be a number"));
        }
        let query = normalized(query)?;
        let limit = limit.clamp(1, MAX_LIMIT);
        if let Some(table) = self.pgvector_table().await? {
            return self.search_pgvector(table, user_id, &query, limit, min_similarity).await;
        }
        let index = self.user(user_id).await?;
        if index.is_empty() {
            return Ok(Vec::new());
        }
        if query.len() != index.dims {
            return Err(SearchError::DimensionMismatch { expected: index.dims, got: query.len() });
        }
        let hits = if index.len() * index.dims > 4_000_000 {
            // A large scan (over ~2,600 vectors of 1536) takes a millisecond or more: keep it off the
            // async worker threads.
            let index = index.clone();
            tokio::task::spawn_blocking(move || index.top_k(&query, limit, min_similarity))
                .await
                .map_err(|_| SearchError::InvalidQuery("search task failed"))?
        } else {
            index.top_k(&query, limit, min_similarity)
        };
        Ok(hits
            .into_iter()
            .map(|(row, similarity)| {
                let w = &index.workouts[row];
                WorkoutMatch {
                    workout_id: w.workout_id.clone(),
                    title: w.title.clone(),
                    description: w.description.clone(),
                    similarity,
                }
            })
            .collect())
    }

    /// How many workouts of `user_id` are searchable.
    pub async fn count(&self, user_id: &str) -> Result<u32, StoreError> {
        if let Some(table) = self.pgvector_table().await? {
            let count = self.store.shared_embedding_count(table, user_id).await?;
            return Ok(count.clamp(0, u32::MAX as i64) as u32);
        }
        if let Some(index) = self.cached_fresh(user_id) {
            return Ok(index.len() as u32);
        }
        let version = self.store.user_index_version(user_id, SEARCHED_TABLE).await?;
        Ok(version.count.clamp(0, u32::MAX as i64) as u32)
    }

    /// Forgets the cached vectors of `user_id` (call after writing their embeddings).
    pub fn invalidate(&self, user_id: &str) {
        let mut cache = self.cache.lock();
        *cache.generations.entry(user_id.to_string()).or_default() += 1;
        if let Some(slot) = cache.users.remove(user_id) {
            cache.bytes -= slot.index.bytes();
        }
    }

    /// The cached index when it needs no revalidation.
    fn cached_fresh(&self, user_id: &str) -> Option<Arc<UserIndex>> {
        let mut cache = self.cache.lock();
        cache.clock += 1;
        let clock = cache.clock;
        let slot = cache.users.get_mut(user_id)?;
        if slot.checked_at.elapsed() > self.options.revalidate_after {
            return None;
        }
        slot.last_used = clock;
        Some(slot.index.clone())
    }

    /// The user's index: cached, revalidated, or loaded.
    async fn user(&self, user_id: &str) -> Result<Arc<UserIndex>, StoreError> {
        if let Some(index) = self.cached_fresh(user_id) {
            return Ok(index);
        }
        let (stale, generation) = {
            let cache = self.cache.lock();
            (cache.users.get(user_id).map(|s| s.index.clone()), cache.generations.get(user_id).copied().unwrap_or(0))
        };
        let version = self.store.user_index_version(user_id, SEARCHED_TABLE).await?;
        if let Some(index) = stale
            && index.version == version
        {
            let mut cache = self.cache.lock();
            if let Some(slot) = cache.users.get_mut(user_id) {
                slot.checked_at = Instant::now();
            }
            return Ok(index);
        }
        let rows = self.store.user_workout_embeddings(user_id, SEARCHED_TABLE).await?;
        let index = Arc::new(UserIndex::build(rows, version));
        self.insert(user_id, index.clone(), generation);
        Ok(index)
    }

    fn insert(&self, user_id: &str, index: Arc<UserIndex>, generation: u64) {
        let mut cache = self.cache.lock();
        if cache.generations.get(user_id).copied().unwrap_or(0) != generation {
            return; // a write happened while loading: serve this search, cache nothing
        }
        cache.clock += 1;
        let slot = Slot { index: index.clone(), last_used: cache.clock, checked_at: Instant::now() };
        if let Some(old) = cache.users.insert(user_id.to_string(), slot) {
            cache.bytes -= old.index.bytes();
        }
        cache.bytes += index.bytes();
        while cache.bytes > self.options.memory_budget_bytes && cache.users.len() > 1 {
            let Some(victim) = cache
                .users
                .iter()
                .filter(|(u, _)| *u != user_id)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(u, _)| u.clone())
            else {
                break;
            };
            if let Some(slot) = cache.users.remove(&victim) {
                cache.bytes -= slot.index.bytes();
            }
        }
    }
}

/// The index behind the plugins' `search-workouts` and `indexed-workout-count` host calls.
impl tools::WorkoutIndex for WorkoutIndex {
    fn search<'a>(
        &'a self,
        user_id: &'a str,
        embedding: &'a [f32],
        limit: u32,
        min_similarity: f32,
    ) -> BoxFuture<'a, anyhow::Result<Vec<WorkoutMatch>>> {
        Box::pin(
            async move { Ok(WorkoutIndex::search(self, user_id, embedding, limit as usize, min_similarity).await?) },
        )
    }

    fn count<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, anyhow::Result<u32>> {
        Box::pin(async move { Ok(WorkoutIndex::count(self, user_id).await?) })
    }
}

/// The unit vector of `query`.
fn normalized(query: &[f32]) -> Result<Vec<f32>, SearchError> {
    if query.is_empty() {
        return Err(SearchError::InvalidQuery("empty embedding"));
    }
    if query.iter().any(|x| !x.is_finite()) {
        return Err(SearchError::InvalidQuery("embedding has non-finite values"));
    }
    let norm = dot_f32(query, query).sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return Err(SearchError::InvalidQuery("embedding has zero length"));
    }
    Ok(query.iter().map(|x| x / norm).collect())
}

/// What a search returns for a row besides its score.
struct IndexedWorkout {
    workout_id: String,
    title: String,
    description: Option<String>,
}

/// One user's vectors, ready to scan. Rows are in workout-id order (ties in similarity are broken
/// by it, so results are deterministic).
pub struct UserIndex {
    workouts: Vec<IndexedWorkout>,
    dims: usize,
    /// Unit vectors, row after row.
    exact: Vec<f32>,
    /// `exact` quantised to i8 with one scale per row: `exact ≈ codes × scale`.
    codes: Vec<i8>,
    scales: Vec<f32>,
    /// Per row: ‖exact − codes×scale‖₂ and ‖codes×scale‖₂, for the error bound of the 8-bit score.
    quantization_error: Vec<f32>,
    quantized_norm: Vec<f32>,
    version: IndexVersion,
}

/// A row quantised to i8.
struct Quantized {
    codes: Vec<i8>,
    scale: f32,
    error: f32,
    norm: f32,
}

fn quantize(v: &[f32]) -> Quantized {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let codes: Vec<i8> = v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect();
    let (mut err2, mut norm2) = (0.0f64, 0.0f64);
    for (x, c) in v.iter().zip(&codes) {
        let approx = f64::from(*c) * f64::from(scale);
        err2 += (f64::from(*x) - approx).powi(2);
        norm2 += approx * approx;
    }
    Quantized { codes, scale, error: err2.sqrt() as f32, norm: norm2.sqrt() as f32 }
}

impl UserIndex {
    /// Normalises and quantises `rows`. Rows of another dimension than the first, or of zero length,
    /// cannot be compared and are left out.
    pub fn build(rows: Vec<StoredEmbedding>, version: IndexVersion) -> UserIndex {
        let dims = rows.first().map_or(0, |r| r.vector.len());
        let mut index = UserIndex {
            workouts: Vec::with_capacity(rows.len()),
            dims,
            exact: Vec::with_capacity(rows.len() * dims),
            codes: Vec::with_capacity(rows.len() * dims),
            scales: Vec::with_capacity(rows.len()),
            quantization_error: Vec::with_capacity(rows.len()),
            quantized_norm: Vec::with_capacity(rows.len()),
            version,
        };
        for row in rows {
            if row.vector.len() != dims {
                tracing::warn!(workout_id = row.workout_id, "embedding of another dimension; left out of the index");
                continue;
            }
            let Ok(unit) = normalized(&row.vector) else { continue };
            let q = quantize(&unit);
            index.exact.extend_from_slice(&unit);
            index.codes.extend_from_slice(&q.codes);
            index.scales.push(q.scale);
            index.quantization_error.push(q.error);
            index.quantized_norm.push(q.norm);
            index.workouts.push(IndexedWorkout {
                workout_id: row.workout_id,
                title: row.title,
                description: row.description,
            });
        }
        index
    }

    pub fn len(&self) -> usize {
        self.workouts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workouts.is_empty()
    }

    /// Memory held (for the cache budget).
    pub fn bytes(&self) -> usize {
        let strings: usize = self
            .workouts
            .iter()
            .map(|w| w.workout_id.len() + w.title.len() + w.description.as_ref().map_or(0, |d| d.len()))
            .sum();
        self.exact.len() * 4 + self.codes.len() + self.len() * (12 + std::mem::size_of::<IndexedWorkout>()) + strings
    }

    /// Exact cosine top-k of a unit `query` of this index's dimension: `(row, similarity)`, best first.
    pub fn top_k(&self, query: &[f32], limit: usize, min_similarity: f32) -> Vec<(usize, f32)> {
        let n = self.len();
        if n == 0 || limit == 0 {
            return Vec::new();
        }
        let q = quantize(query);
        let mut raw = vec![0i32; n];
        scan_i8(&self.codes, self.dims, &q.codes, &mut raw);
        // True score ∈ approx ± bound, with bound = ‖e_v‖·‖q‖ + ‖v̂‖·‖e_q‖ (‖q‖ = 1), plus float slack.
        let mut approx = Vec::with_capacity(n);
        let mut bounds = Vec::with_capacity(n);
        let mut lows = BinaryHeap::with_capacity(limit + 1);
        for (row, &dot) in raw.iter().enumerate() {
            let a = dot as f32 * self.scales[row] * q.scale;
            let b = self.quantization_error[row] + self.quantized_norm[row] * q.error + 1e-4;
            approx.push(a);
            bounds.push(b);
            lows.push(std::cmp::Reverse(OrdF32(a - b)));
            if lows.len() > limit {
                lows.pop();
            }
        }
        // A row whose best case is below the k-th best worst case cannot be in the top k.
        let kth_low =
            if lows.len() == limit { lows.peek().map_or(f32::NEG_INFINITY, |r| r.0.0) } else { f32::NEG_INFINITY };
        let threshold = kth_low.max(min_similarity);
        let mut hits: Vec<(usize, f32)> = (0..n)
            .filter(|&row| approx[row] + bounds[row] >= threshold)
            .map(|row| (row, dot_f32(&self.exact[row * self.dims..(row + 1) * self.dims], query)))
            .filter(|&(_, score)| score >= min_similarity)
            .collect();
        hits.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(Ordering::Equal).then(a.0.cmp(&b.0)));
        hits.truncate(limit);
        hits
    }

    /// Exact top-k by a plain f32 scan of every row (the reference the tests and the benchmark
    /// compare [`UserIndex::top_k`] with).
    pub fn top_k_exhaustive(&self, query: &[f32], limit: usize, min_similarity: f32) -> Vec<(usize, f32)> {
        let mut hits: Vec<(usize, f32)> = self
            .exact
            .chunks_exact(self.dims.max(1))
            .enumerate()
            .map(|(row, v)| (row, dot_f32(v, query)))
            .filter(|&(_, s)| s >= min_similarity)
            .collect();
        hits.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(Ordering::Equal).then(a.0.cmp(&b.0)));
        hits.truncate(limit);
        hits
    }

    /// The id of a row.
    pub fn workout_id(&self, row: usize) -> &str {
        &self.workouts[row].workout_id
    }
}

/// f32 with a total order, for the heap.
#[derive(Clone, Copy, PartialEq)]
struct OrdF32(f32);

impl Eq for OrdF32 {}

impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF32 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Dot product with independent accumulators, so the compiler can vectorise it.
#[inline(always)]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 32;
    let mut acc = [0i32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += i32::from(i16::from(x[i]) * i16::from(y[i]));
        }
    }
    let tail: i32 = ra.iter().zip(rb).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum();
    acc.iter().sum::<i32>() + tail
}

#[inline(always)]
fn scan_i8_portable(codes: &[i8], dims: usize, query: &[i8], out: &mut [i32]) {
    for (row, slot) in codes.chunks_exact(dims).zip(out.iter_mut()) {
        *slot = dot_i8(row, query);
    }
}

/// The same loop compiled for AVX2 (chosen at run time; the build targets baseline x86-64).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_i8_avx2(codes: &[i8], dims: usize, query: &[i8], out: &mut [i32]) {
    scan_i8_portable(codes, dims, query, out)
}

/// Integer dot product of `query` with every row of `codes`.
fn scan_i8(codes: &[i8], dims: usize, query: &[i8], out: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { scan_i8_avx2(codes, dims, query, out) };
        return;
    }
    scan_i8_portable(codes, dims, query, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random vectors: `clusters` directions plus noise, like topic-clustered
    /// embeddings (many near-ties, the hard case for an approximate scan).
    fn vectors(n: usize, dims: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let centers: Vec<Vec<f32>> = (0..clusters.max(1)).map(|_| (0..dims).map(|_| next()).collect()).collect();
        (0..n).map(|i| centers[i % centers.len()].iter().map(|c| c + 0.6 * next()).collect()).collect()
    }

    fn index_of(vs: &[Vec<f32>]) -> UserIndex {
        let rows = vs
            .iter()
            .enumerate()
            .map(|(i, v)| StoredEmbedding {
                workout_id: format!("w{i:05}"),
                title: format!("t{i}"),
                description: None,
                vector: v.clone(),
            })
            .collect();
        UserIndex::build(rows, IndexVersion { count: vs.len() as i64, last_update: None })
    }

    #[test]
    fn quantized_search_equals_the_exhaustive_f32_search() {
        for (n, clusters) in [(3000, 1), (3000, 12), (500, 500)] {
            let data = vectors(n, 256, clusters, n as u64 + clusters as u64);
            let index = index_of(&data);
            for (qi, query) in vectors(20, 256, clusters, 99).iter().enumerate() {
                let query = normalized(query).unwrap();
                for (limit, min) in [(1, -1.0), (5, -1.0), (10, 0.2), (50, 0.5)] {
                    let fast = index.top_k(&query, limit, min);
                    let exact = index.top_k_exhaustive(&query, limit, min);
                    let ids = |h: &[(usize, f32)]| h.iter().map(|(r, _)| *r).collect::<Vec<_>>();
                    assert_eq!(ids(&fast), ids(&exact), "n={n} clusters={clusters} query={qi} limit={limit}");
                    for ((_, a), (_, b)) in fast.iter().zip(&exact) {
                        assert!((a - b).abs() < 1e-6);
                    }
                }
            }
        }
    }

    #[test]
    fn finds_the_identical_vector_first_with_similarity_one() {
        let data = vectors(200, 64, 5, 7);
        let index = index_of(&data);
        let hits = index.top_k(&normalized(&data[42]).unwrap(), 3, 0.0);
        assert_eq!(hits[0].0, 42);
        assert!((hits[0].1 - 1.0).abs() < 1e-5);
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1));
    }

    #[test]
    fn min_similarity_filters_and_may_leave_nothing() {
        let index = index_of(&[vec![1.0, 0.0], vec![0.0, 1.0], vec![-1.0, 0.0]]);
        let hits = index.top_k(&[1.0, 0.0], 10, 0.5);
        assert_eq!(hits.len(), 1);
        assert!(index.top_k(&[0.6, -0.8], 10, 0.9).is_empty());
    }

    #[test]
    fn rows_of_another_dimension_or_zero_length_are_left_out() {
        let index = index_of(&[vec![1.0, 0.0], vec![0.0, 0.0], vec![1.0, 0.0, 0.0], vec![0.0, 2.0]]);
        assert_eq!(index.len(), 2);
        assert_eq!(index.workout_id(1), "w00003");
    }

    #[test]
    fn queries_are_validated() {
        assert!(normalized(&[]).is_err());
        assert!(normalized(&[0.0, 0.0]).is_err());
        assert!(normalized(&[f32::NAN, 1.0]).is_err());
        let unit = normalized(&[3.0, 4.0]).unwrap();
        assert!((unit[0] - 0.6).abs() < 1e-6 && (unit[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn the_dispatched_scan_equals_the_portable_one() {
        let data = vectors(50, 100, 3, 1);
        let q = quantize(&normalized(&data[0]).unwrap());
        let codes: Vec<i8> = data.iter().flat_map(|v| quantize(&normalized(v).unwrap()).codes).collect();
        let (mut a, mut b) = (vec![0; 50], vec![0; 50]);
        scan_i8(&codes, 100, &q.codes, &mut a);
        scan_i8_portable(&codes, 100, &q.codes, &mut b);
        assert_eq!(a, b);
    }
}
