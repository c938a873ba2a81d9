//! A cache of Clerk's signing keys (`/.well-known/jwks.json`).
//!
//! Keys are kept for an hour. A token with an unknown `kid` triggers a refetch, at most once per
//! `min_refresh` (`CLERK_JWKS_MIN_REFRESH_SECONDS`, so a flood of forged kids cannot hammer Clerk);
//! when a fetch fails, the keys we have keep being served for up to a day, and the next attempt
//! waits at least [`FAILURE_BACKOFF`] (requests never queue behind one dead fetch after another).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use parking_lot::RwLock;

use super::AuthError;

const TTL: Duration = Duration::from_secs(3600);
const MAX_STALE: Duration = Duration::from_secs(24 * 3600);
/// Least time between two attempts while the key set is expired or was never fetched.
pub const FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// A JWKS document larger than this is refused (Clerk's is about 1 KiB).
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    min_refresh: Duration,
    state: RwLock<State>,
    /// One fetch at a time; concurrent callers wait for it instead of fetching again.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

impl JwksCache {
    pub fn new(url: String, http: reqwest::Client, min_refresh: Duration) -> Self {
        JwksCache {
            url,
            http,
            min_refresh,
            state: RwLock::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The key for `kid`, fetching the key set when it is unknown or old.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        if let Some(key) = self.cached(kid, false) {
            return Ok(key);
        }
        let _guard = self.fetching.lock().await;
        // Another caller may have fetched while we waited.
        if let Some(key) = self.cached(kid, false) {
            return Ok(key);
        }
        if self.may_fetch() {
            match self.fetch().await {
                Ok(keys) => {
                    let mut state = self.state.write();
                    state.keys = keys;
                    state.fetched_at = Some(Instant::now());
                }
                Err(err) => tracing::warn!(error = %err, url = %self.url, "JWKS fetch failed; serving cached keys"),
            }
        }
        if let Some(key) = self.cached(kid, true) {
            return Ok(key);
        }
        let state = self.state.read();
        let usable = state.fetched_at.is_some_and(|at| at.elapsed() < MAX_STALE);
        if usable {
            Err(AuthError::Invalid("Unable to find a signing key that matches".to_string()))
        } else {
            Err(AuthError::KeysUnavailable)
        }
    }

    /// A cached key: fresh only, or (`allow_stale`) anything younger than a day.
    fn cached(&self, kid: &str, allow_stale: bool) -> Option<DecodingKey> {
        let state = self.state.read();
        let age = state.fetched_at?.elapsed();
        let limit = if allow_stale { MAX_STALE } else { TTL };
        if age < limit { state.keys.get(kid).cloned() } else { None }
    }

    /// Records an attempt and says whether one is allowed now: with a fresh key set (the kid is
    /// unknown) once per `min_refresh`; with an expired or missing one, once per
    /// `min(min_refresh, FAILURE_BACKOFF)`.
    fn may_fetch(&self) -> bool {
        let mut state = self.state.write();
        let fresh = state.fetched_at.is_some_and(|at| at.elapsed() < TTL);
        let spacing = if fresh { self.min_refresh } else { self.min_refresh.min(FAILURE_BACKOFF) };
        let allowed = state.last_attempt.is_none_or(|at| at.elapsed() >= spacing);
        if allowed {
            state.last_attempt = Some(Instant::now());
        }
        allowed
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, DecodingKey>> {
        let mut response = self.http.get(&self.url).timeout(Duration::from_secs(5)).send().await?.error_for_status()?;
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_DOCUMENT_BYTES {
                anyhow::bail!("JWKS document larger than {MAX_DOCUMENT_BYTES} bytes");
            }
        }
        let set: JwkSet = serde_json::from_slice(&bytes)?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            // Only RSA keys can verify RS256; anything else in the set is ignored.
            let (Some(kid), AlgorithmParameters::RSA(_)) = (&jwk.common.key_id, &jwk.algorithm) else { continue };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid.clone(), key);
            }
        }
        Ok(keys)
    }
}
