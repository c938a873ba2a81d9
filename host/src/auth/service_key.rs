//! Service keys: the shared secrets that open the routes no user calls. `INTERNAL_API_KEY` is
//! mapper-api's (`/internal/*`), `ADMIN_API_KEY` the operators' (`/admin/*`: installing code) and
//! `METRICS_TOKEN` Prometheus' (`/metrics`). Each opens its own routes and nothing else, so whoever
//! can read metrics or call the embeddings webhook cannot install a plugin.
//!
//! A presented key is compared in constant time. Records that must say which key acted (the audit
//! log) name it by its [`KeyId`], a short hash that identifies a key without revealing it.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AuthError;
use crate::config::Secret;

/// Which service key a route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceKey {
    Internal,
    Admin,
    Metrics,
}

impl ServiceKey {
    /// The key's name in messages ("admin API key").
    pub fn label(self) -> &'static str {
        match self {
            ServiceKey::Internal => "internal API key",
            ServiceKey::Admin => "admin API key",
            ServiceKey::Metrics => "metrics token",
        }
    }

    /// The header that carries the key as is (the metrics token has none: Prometheus sends a bearer
    /// token).
    pub fn header(self) -> Option<&'static str> {
        match self {
            ServiceKey::Internal => Some("x-internal-key"),
            ServiceKey::Admin => Some("x-admin-key"),
            ServiceKey::Metrics => None,
        }
    }

    /// Whether `Authorization: Bearer <key>` is accepted. Not for the internal key: mapper-api
    /// sends `X-Internal-Key`, as the original contract says.
    pub fn accepts_bearer(self) -> bool {
        self != ServiceKey::Internal
    }

    /// How a caller presents the key, for the message of a request without it.
    fn presented_as(self) -> &'static str {
        match self {
            ServiceKey::Internal => "X-Internal-Key",
            ServiceKey::Admin => "X-Admin-Key or Authorization: Bearer",
            ServiceKey::Metrics => "Authorization: Bearer",
        }
    }

    /// The message of a request without the key.
    pub(super) fn missing_message(self) -> String {
        format!("Missing {}: send it as {}", self.label(), self.presented_as())
    }

    /// The message of a route whose key is not configured ("Internal API key not configured").
    pub(super) fn not_configured_message(self) -> String {
        let label = self.label();
        format!("{}{} not configured", label[..1].to_ascii_uppercase(), &label[1..])
    }
}

/// Checks a presented key against the configured one (`None`: none is configured, so every caller
/// is refused).
pub fn verify(key: ServiceKey, given: &str, expected: Option<&Secret>) -> Result<(), AuthError> {
    let expected = expected.ok_or(AuthError::KeyNotConfigured(key))?;
    if constant_time_eq(given, expected.expose()) { Ok(()) } else { Err(AuthError::WrongKey(key)) }
}

/// Compares two secrets without leaking where they differ. Different lengths compare unequal
/// (the length of the expected key is not secret enough to matter).
pub fn constant_time_eq(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Names a key without revealing it: the first 12 hex digits of its SHA-256. An operator finds
/// which key acted by computing the same of each key they hold (`printf %s "$KEY" | sha256sum`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyId(String);

impl KeyId {
    pub fn of(key: &str) -> KeyId {
        KeyId(hex::encode(&Sha256::digest(key.as_bytes())[..6]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_opens_only_when_configured_and_equal() {
        let configured = Secret::from("the-admin-key");
        assert_eq!(verify(ServiceKey::Admin, "the-admin-key", Some(&configured)), Ok(()));
        for wrong in ["the-admin-key ", "the-admin-ke", "THE-ADMIN-KEY", ""] {
            assert_eq!(
                verify(ServiceKey::Admin, wrong, Some(&configured)),
                Err(AuthError::WrongKey(ServiceKey::Admin))
            );
        }
        assert_eq!(verify(ServiceKey::Metrics, "x", None), Err(AuthError::KeyNotConfigured(ServiceKey::Metrics)));
    }

    #[test]
    fn messages_keep_the_original_wording_of_the_internal_key() {
        assert_eq!(AuthError::KeyNotConfigured(ServiceKey::Internal).to_string(), "Internal API key not configured");
        assert_eq!(AuthError::WrongKey(ServiceKey::Internal).to_string(), "Invalid internal API key");
        assert_eq!(AuthError::KeyNotConfigured(ServiceKey::Admin).to_string(), "Admin API key not configured");
        assert_eq!(
            AuthError::MissingKey(ServiceKey::Admin).to_string(),
            "Missing admin API key: send it as X-Admin-Key or Authorization: Bearer"
        );
    }

    #[test]
    fn a_key_id_names_a_key_without_revealing_it() {
        let id = KeyId::of("an-admin-key-of-forty-random-characters-0");
        assert_eq!(id.as_str().len(), 12);
        assert!(id.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, KeyId::of("an-admin-key-of-forty-random-characters-0"));
        assert_ne!(id, KeyId::of("an-admin-key-of-forty-random-characters-1"));
        // `printf %s "$KEY" | sha256sum | cut -c1-12`
        assert_eq!(KeyId::of("abc").as_str(), "ba7816bf8f01");
    }
}
