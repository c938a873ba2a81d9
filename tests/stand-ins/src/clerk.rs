//! A stand-in for Clerk's Frontend API: a real HTTP server on loopback that serves
//! `/.well-known/jwks.json` from RSA keys generated at start, and mints session tokens signed with
//! them. The service under test is pointed at it with `CLERK_DOMAIN=<domain()>`.
//!
//! Besides valid tokens it mints the hostile ones an attacker would try (`alg: none`, HS256 signed
//! with the public key, an unknown `kid`, a forged signature, a 100 KB token), and it can rotate
//! its key or stop answering, so the JWKS cache is tested against a real server. It runs on the
//! shared [`RecordingServer`]: the JWKS fetches it counts are the requests it recorded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::RwLock;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Map, Value, json};

use crate::recording_server::{RecordingServer, runs_on_recording_server};

/// Where Clerk publishes its keys.
const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Token lifetime of minted tokens; Clerk's session tokens live about a minute.
pub const TOKEN_LIFETIME_SECONDS: i64 = 60;

/// One RSA signing key with its key id.
pub struct SigningKey {
    pub kid: String,
    private: RsaPrivateKey,
    encoding: EncodingKey,
}

impl SigningKey {
    /// A fresh 2048-bit key with a random `kid`.
    pub fn generate() -> SigningKey {
        let private = RsaPrivateKey::new(&mut Rng06(rand::rng()), 2048).expect("RSA key generation");
        let der = private.to_pkcs1_der().expect("PKCS#1 encoding");
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        SigningKey { kid: format!("ins_{}", uuid::Uuid::new_v4().simple()), private, encoding }
    }

    pub fn public_key(&self) -> RsaPublicKey {
        self.private.to_public_key()
    }

    /// The public key as a JWK, the shape Clerk publishes.
    pub fn jwk(&self) -> Value {
        let public = self.public_key();
        json!({
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    /// The public key as SPKI PEM text (what the HS256 key-confusion attack signs with).
    pub fn public_pem(&self) -> String {
        self.public_key().to_public_key_pem(LineEnding::LF).expect("PEM encoding")
    }

    /// Signs `claims` with RS256 under this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("RS256 signing")
    }
}

struct Keys {
    /// Signs new tokens.
    current: Arc<SigningKey>,
    /// What the JWKS endpoint publishes.
    published: Vec<Arc<SigningKey>>,
}

struct Shared {
    keys: RwLock<Keys>,
    available: AtomicBool,
}

/// The running stand-in. Dropping it stops the server; it derefs to the [`RecordingServer`] it
/// runs on.
pub struct ClerkStandIn {
    server: RecordingServer,
    shared: Arc<Shared>,
    /// A key that is never published (tokens with an unknown `kid`, forged signatures).
    outsider: Arc<SigningKey>,
}

runs_on_recording_server!(ClerkStandIn);

impl ClerkStandIn {
    /// Starts on a free loopback port with one published key.
    pub async fn start() -> ClerkStandIn {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr` (the dev stack uses a fixed port).
    pub async fn start_on(addr: SocketAddr) -> ClerkStandIn {
        let (current, outsider) =
            tokio::task::spawn_blocking(|| (Arc::new(SigningKey::generate()), Arc::new(SigningKey::generate())))
                .await
                .expect("key generation task");
        let shared = Arc::new(Shared {
            keys: RwLock::new(Keys { published: vec![current.clone()], current }),
            available: AtomicBool::new(true),
        });
        let answering = shared.clone();
        let server = RecordingServer::start_on(addr, move |request| {
            let shared = answering.clone();
            async move {
                match (request.method.as_str(), request.path.as_str()) {
                    ("GET" | "HEAD", JWKS_PATH) => jwks(&shared),
                    _ => StatusCode::NOT_FOUND.into_response(),
                }
            }
        })
        .await;
        ClerkStandIn { server, shared, outsider }
    }

    /// The value for `CLERK_DOMAIN` (a full `http://` origin, which only non-production accepts).
    pub fn domain(&self) -> String {
        self.server.url()
    }

    /// The `iss` of minted tokens; the service expects `https://$CLERK_DOMAIN`, or the origin itself
    /// when the domain is given as one.
    pub fn issuer(&self) -> String {
        self.domain()
    }

    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.domain())
    }

    /// How many times the JWKS was requested.
    pub fn fetch_count(&self) -> usize {
        self.server.requests().iter().filter(|r| r.path == JWKS_PATH).count()
    }

    /// While unavailable, the JWKS endpoint answers 503.
    pub fn set_available(&self, available: bool) {
        self.shared.available.store(available, Ordering::SeqCst);
    }

    /// The `kid` new tokens are signed under.
    pub fn current_kid(&self) -> String {
        self.shared.keys.read().current.kid.clone()
    }

    /// Replaces the signing key with a new one; the JWKS then publishes only the new key, so a
    /// service must refetch to accept tokens signed with it. Returns the new `kid`.
    pub async fn rotate(&self) -> String {
        let key = tokio::task::spawn_blocking(|| Arc::new(SigningKey::generate())).await.expect("key generation task");
        let kid = key.kid.clone();
        let mut keys = self.shared.keys.write();
        keys.published = vec![key.clone()];
        keys.current = key;
        kid
    }

    /// The claims of a valid session token for `user_id`, as Clerk (v2) issues them.
    pub fn claims(&self, user_id: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "sub": user_id,
            "iss": self.issuer(),
            "iat": now,
            "nbf": now - 5,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "sid": format!("sess_{}", uuid::Uuid::new_v4().simple()),
            "jti": uuid::Uuid::new_v4().simple().to_string(),
            "v": 2,
        })
    }

    /// A valid token for `user_id` signed with the current key. `overrides` (a JSON object) replaces
    /// claims; a `null` value removes the claim.
    pub fn mint(&self, user_id: &str, overrides: Value) -> String {
        let key = self.shared.keys.read().current.clone();
        key.sign(&with_overrides(self.claims(user_id), overrides))
    }

    /// A token with `"alg": "none"` and no signature.
    pub fn mint_alg_none(&self, user_id: &str) -> String {
        let header = json!({"alg": "none", "typ": "JWT", "kid": self.current_kid()});
        format!("{}.{}.", b64_json(&header), b64_json(&self.claims(user_id)))
    }

    /// The key-confusion attack: HS256 with the published RSA public key (PEM) as the HMAC secret.
    pub fn mint_hs256_with_public_key(&self, user_id: &str) -> String {
        let key = self.shared.keys.read().current.clone();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        let secret = EncodingKey::from_secret(key.public_pem().as_bytes());
        jsonwebtoken::encode(&header, &self.claims(user_id), &secret).expect("HS256 signing")
    }

    /// Signed with a key the JWKS never published, under its own `kid`.
    pub fn mint_unknown_kid(&self, user_id: &str) -> String {
        self.outsider.sign(&self.claims(user_id))
    }

    /// Signed with an unpublished key but claiming the published `kid` (a forged signature).
    pub fn mint_forged_signature(&self, user_id: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.current_kid());
        jsonwebtoken::encode(&header, &self.claims(user_id), &self.outsider.encoding).expect("RS256 signing")
    }

    /// A correctly signed token of at least `bytes` bytes (a padding claim makes it large).
    pub fn mint_oversized(&self, user_id: &str, bytes: usize) -> String {
        self.mint(user_id, json!({"pad": "A".repeat(bytes * 3 / 4)}))
    }
}

fn jwks(shared: &Shared) -> Response {
    if !shared.available.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
    }
    let keys: Vec<Value> = shared.keys.read().published.iter().map(|k| k.jwk()).collect();
    axum::Json(json!({ "keys": keys })).into_response()
}

/// `claims` with each key of `overrides` replaced, or removed when its value is `null`.
pub fn with_overrides(mut claims: Value, overrides: Value) -> Value {
    let Value::Object(overrides) = overrides else { return claims };
    let object: &mut Map<String, Value> = claims.as_object_mut().expect("claims are an object");
    for (key, value) in overrides {
        if value.is_null() {
            object.remove(&key);
        } else {
            object.insert(key, value);
        }
    }
    claims
}

/// Mints the HS256 pairing tokens of the iOS companion app (`iss=amakaflow`, `aud=ios_companion`).
pub fn mint_mobile(secret: &str, user_id: &str, overrides: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": user_id,
        "iss": "amakaflow",
        "aud": "ios_companion",
        "iat": now,
        "exp": now + 30 * 24 * 3600,
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &with_overrides(claims, overrides),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing")
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON"))
}

/// `rsa` 0.9 takes a `rand_core` 0.6 generator; this adapts the workspace's `rand` 0.9 thread
/// generator (a CSPRNG seeded from the OS) to it.
struct Rng06(rand::rngs::ThreadRng);

impl rsa::rand_core::RngCore for Rng06 {
    fn next_u32(&mut self) -> u32 {
        rand::RngCore::next_u32(&mut self.0)
    }

    fn next_u64(&mut self) -> u64 {
        rand::RngCore::next_u64(&mut self.0)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand::RngCore::fill_bytes(&mut self.0, dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        rand::RngCore::fill_bytes(&mut self.0, dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for Rng06 {}
