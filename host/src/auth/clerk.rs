//! Clerk session tokens: RS256 JWTs verified against the instance's JWKS, with `iss` checked,
//! `exp`/`nbf` required and enforced with 10 s of leeway, and `azp` (when present) checked against
//! `ALLOWED_ORIGINS`. Tokens without `azp` are accepted: Clerk omits it when the request that minted
//! the token had no Origin (native apps), and these tokens arrive as bearer headers, never cookies.
//! Only RS256 is accepted, whatever the header claims (`alg: none` and HS256 signed with the public
//! key are refused before any key is used).

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::AuthError;
use super::jwks::JwksCache;
use super::mobile::MAX_TOKEN_BYTES;

/// The claims we read; everything else in the token is ignored.
#[derive(Debug, Deserialize)]
pub struct Claims {
    pub sub: Option<String>,
    pub azp: Option<String>,
    pub sts: Option<String>,
}

/// The origin of a Clerk Frontend API: `domain` as given when it is already an origin (a local
/// stand-in), else `https://<domain>`. Also the default issuer of its tokens.
pub fn clerk_origin(domain: &str) -> String {
    if domain.starts_with("http://") || domain.starts_with("https://") {
        domain.to_string()
    } else {
        format!("https://{domain}")
    }
}

pub struct ClerkVerifier {
    jwks: JwksCache,
    validation: Validation,
    allowed_parties: Vec<String>,
}

impl ClerkVerifier {
    /// `domain` is the Frontend API host (`clerk.example.com`) or a full origin (`http://127.0.0.1:9999`
    /// for a local stand-in). The issuer defaults to `https://<domain>` (or that origin).
    pub fn new(
        domain: &str,
        issuer: Option<&str>,
        allowed_origins: &[String],
        http: reqwest::Client,
        min_refresh: Duration,
    ) -> Self {
        let origin = clerk_origin(domain);
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer.unwrap_or(&origin)]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = 10;
        ClerkVerifier {
            jwks: JwksCache::new(format!("{origin}/.well-known/jwks.json"), http, min_refresh),
            validation,
            allowed_parties: allowed_origins.to_vec(),
        }
    }

    /// The user id of a valid session token.
    pub async fn verify(&self, token: &str) -> Result<String, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid("The specified alg value is not allowed".to_string()));
        }
        let kid = header.kid.ok_or_else(|| AuthError::Invalid("Token header has no kid".to_string()))?;
        let key = self.jwks.key(&kid).await?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(map_jwt_error)?;
        if let Some(azp) = &data.claims.azp
            && !self.allowed_parties.iter().any(|o| o == azp.trim_end_matches('/'))
        {
            return Err(AuthError::Invalid("Invalid authorized party".to_string()));
        }
        if data.claims.sts.as_deref() == Some("pending") {
            return Err(AuthError::Invalid("Session is pending".to_string()));
        }
        data.claims.sub.filter(|s| !s.is_empty()).ok_or(AuthError::MissingSubject)
    }
}

/// Maps jsonwebtoken's errors onto the original service's messages.
pub fn map_jwt_error(err: jsonwebtoken::errors::Error) -> AuthError {
    match err.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            AuthError::Malformed
        }
        ErrorKind::ImmatureSignature => AuthError::Invalid("The token is not yet valid (nbf)".to_string()),
        ErrorKind::InvalidIssuer => AuthError::Invalid("Invalid issuer".to_string()),
        ErrorKind::InvalidAudience => AuthError::Invalid("Invalid audience".to_string()),
        ErrorKind::InvalidSignature => AuthError::Invalid("Signature verification failed".to_string()),
        ErrorKind::InvalidAlgorithm => AuthError::Invalid("The specified alg value is not allowed".to_string()),
        ErrorKind::MissingRequiredClaim(c) => AuthError::Invalid(format!("Token is missing the \"{c}\" claim")),
        _ => AuthError::Invalid("Token verification failed".to_string()),
    }
}
