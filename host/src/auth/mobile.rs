//! Mobile pairing tokens: HS256 JWTs the iOS companion app receives when it is paired, with
//! `iss=amakaflow` and `aud=ios_companion`, signed with `JWT_SECRET`. The user is `sub`.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::AuthError;
use super::clerk::{Claims, map_jwt_error};

pub const ISSUER: &str = "amakaflow";
pub const AUDIENCE: &str = "ios_companion";

/// Tokens longer than this are refused before any parsing (a JWT of ours is well under 2 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

pub struct MobileVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl MobileVerifier {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 10;
        validation.validate_nbf = true;
        MobileVerifier { key: DecodingKey::from_secret(secret.as_bytes()), validation }
    }

    /// The user id of a valid pairing token.
    pub fn verify(&self, token: &str) -> Result<String, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(map_jwt_error)?;
        data.claims.sub.filter(|s| !s.is_empty()).ok_or(AuthError::MissingSubject)
    }
}

#[derive(Deserialize)]
struct Peek {
    iss: Option<String>,
    aud: Option<serde_json::Value>,
}

/// Whether an (unverified) token claims to be a pairing token, which decides the verifier to use.
/// Verification then checks the claim for real.
pub fn is_pairing_token(token: &str) -> bool {
    if token.len() > MAX_TOKEN_BYTES {
        return false;
    }
    let Some(payload) = token.split('.').nth(1) else { return false };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')) else {
        return false;
    };
    let Ok(peek) = serde_json::from_slice::<Peek>(&bytes) else { return false };
    let aud_matches = match peek.aud {
        Some(serde_json::Value::String(a)) => a == AUDIENCE,
        Some(serde_json::Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(AUDIENCE)),
        _ => false,
    };
    peek.iss.as_deref() == Some(ISSUER) && aud_matches
}
