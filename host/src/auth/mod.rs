//! Who is calling. Users authenticate with (in order of precedence) the `X-Test-Auth` bypass
//! (never in production), an `X-API-Key`, or `Authorization: Bearer <jwt>`: a mobile pairing token
//! (HS256, `iss=amakaflow`, `aud=ios_companion`) or a Clerk session token (RS256 against the JWKS).
//! Services and operators call their own routes with a service key ([`service_key`]).
//!
//! Nothing here knows HTTP routing: the API layer turns these into extractors and maps
//! [`AuthError`] to statuses.

pub mod api_key;
pub mod clerk;
pub mod jwks;
pub mod mobile;
pub mod service_key;

use std::sync::Arc;

use http::HeaderMap;

use crate::config::{AuthConfig, Environment, Secret};
use service_key::ServiceKey;

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Clerk,
    Mobile,
    ApiKey,
    TestBypass,
}

/// An authenticated user.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub user_id: String,
    pub method: AuthMethod,
    /// The raw `Authorization` header value, forwarded to downstream services by the tool runtime
    /// (never into a plugin). `None` for API-key and test callers, as the original did.
    pub authorization: Option<String>,
}

/// Why a request was refused. Messages are the original service's `detail` strings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Missing authentication. Provide Authorization header or X-API-Key.")]
    Missing,
    #[error("Invalid authorization header format")]
    BadHeaderFormat,
    #[error("Token expired")]
    Expired,
    #[error("Invalid token: {0}")]
    Invalid(String),
    #[error("Invalid token format")]
    Malformed,
    #[error("Token missing user ID")]
    MissingSubject,
    #[error("Invalid API key")]
    BadApiKey,
    #[error("Test authentication is not allowed in production")]
    TestAuthInProduction,
    #[error("Invalid test authentication")]
    BadTestAuth,
    #[error("JWT validation not configured (missing CLERK_DOMAIN)")]
    ClerkNotConfigured,
    #[error("Unable to verify token: signing keys unavailable")]
    KeysUnavailable,
    #[error("{}", .0.not_configured_message())]
    KeyNotConfigured(ServiceKey),
    #[error("{}", .0.missing_message())]
    MissingKey(ServiceKey),
    #[error("Invalid {}", .0.label())]
    WrongKey(ServiceKey),
}

/// Verifies user credentials. Built once at start-up and shared.
pub struct Authenticator {
    environment: Environment,
    test_auth_secret: Option<Secret>,
    api_keys: api_key::ApiKeys,
    mobile: mobile::MobileVerifier,
    clerk: Option<clerk::ClerkVerifier>,
}

impl Authenticator {
    pub fn new(
        config: &AuthConfig,
        environment: Environment,
        allowed_origins: &[String],
        http: reqwest::Client,
    ) -> Arc<Self> {
        Arc::new(Authenticator {
            environment,
            test_auth_secret: config.test_auth_secret.clone(),
            api_keys: api_key::ApiKeys::new(&config.api_keys),
            mobile: mobile::MobileVerifier::new(config.jwt_secret.expose()),
            clerk: config.clerk_domain.as_deref().map(|domain| {
                clerk::ClerkVerifier::new(
                    domain,
                    config.clerk_issuer.as_deref(),
                    allowed_origins,
                    http,
                    config.jwks_min_refresh,
                )
            }),
        })
    }

    /// Authenticates a request from its headers.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<AuthUser, AuthError> {
        if let Some(test) = header(headers, "x-test-auth") {
            return self.test_bypass(test, header(headers, "x-test-user-id"));
        }
        if let Some(key) = header(headers, "x-api-key") {
            let user_id = self.api_keys.user_for(key).ok_or(AuthError::BadApiKey)?;
            return Ok(AuthUser { user_id, method: AuthMethod::ApiKey, authorization: None });
        }
        let raw = header(headers, "authorization").ok_or(AuthError::Missing)?;
        let token = bearer_token(raw).ok_or(AuthError::BadHeaderFormat)?;
        if token.len() > mobile::MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed);
        }
        if mobile::is_pairing_token(token) {
            let user_id = self.mobile.verify(token)?;
            return Ok(AuthUser { user_id, method: AuthMethod::Mobile, authorization: Some(raw.to_string()) });
        }
        let Some(clerk) = self.clerk.as_ref() else {
            // Garbage is a client error whether or not Clerk is configured.
            jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
            return Err(AuthError::ClerkNotConfigured);
        };
        let user_id = clerk.verify(token).await?;
        Ok(AuthUser { user_id, method: AuthMethod::Clerk, authorization: Some(raw.to_string()) })
    }

    fn test_bypass(&self, given: &str, user: Option<&str>) -> Result<AuthUser, AuthError> {
        if self.environment.is_production() {
            return Err(AuthError::TestAuthInProduction);
        }
        let expected = self.test_auth_secret.as_ref().map(Secret::expose).ok_or(AuthError::BadTestAuth)?;
        if !service_key::constant_time_eq(given, expected) {
            return Err(AuthError::BadTestAuth);
        }
        match user {
            Some(u) if u.len() >= 5 => {
                Ok(AuthUser { user_id: u.to_string(), method: AuthMethod::TestBypass, authorization: None })
            }
            _ => Err(AuthError::BadTestAuth),
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
