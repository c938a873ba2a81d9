//! A cache of Clerk's signing keys (`/.well-known/jwks.json`).
//!
//! Keys are kept for an hour. A token with an unknown `kid` triggers a refetch, at most once per
//! `min_refresh` (so a flood of forged kids cannot hammer Clerk); when a fetch fails, the keys we
//! have keep being served for up to a day.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use parking_lot::RwLock;

use super::AuthError;

const TTL: Duration = Duration::from_secs(3600);
const MAX_STALE: Duration = Duration::from_secs(24 * 3600);

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
        JwksCache { url, http, min_refresh, state: RwLock::new(State::default()), fetching: tokio::sync::Mutex::new(()) }
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
        if usable { Err(AuthError::Invalid("Unable to find a signing key that matches".to_string())) } else { Err(AuthError::KeysUnavailable) }
    }

    /// A cached key: fresh only, or (`allow_stale`) anything younger than a day.
    fn cached(&self, kid: &str, allow_stale: bool) -> Option<DecodingKey> {
        let state = self.state.read();
        let age = state.fetched_at?.elapsed();
        let limit = if allow_stale { MAX_STALE } else { TTL };
        if age < limit { state.keys.get(kid).cloned() } else { None }
    }

    /// Records an attempt and says whether one is allowed now.
    fn may_fetch(&self) -> bool {
        let mut state = self.state.write();
        let allowed = state.last_attempt.is_none_or(|at| at.elapsed() >= self.min_refresh)
            || state.fetched_at.is_none_or(|at| at.elapsed() >= TTL);
        if allowed {
            state.last_attempt = Some(Instant::now());
        }
        allowed
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, DecodingKey>> {
        let response = self.http.get(&self.url).timeout(Duration::from_secs(5)).send().await?.error_for_status()?;
        let bytes = response.bytes().await?;
        if bytes.len() > 256 * 1024 {
            anyhow::bail!("JWKS document too large ({} bytes)", bytes.len());
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
