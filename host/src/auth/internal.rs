//! Service-to-service authentication: the presented key must equal the configured one, compared in
//! constant time. Used for `INTERNAL_API_KEY` (`/internal/*`, the plugin admin API, metrics).

use subtle::ConstantTimeEq;

use super::AuthError;

/// Compares two secrets without leaking where they differ. Different lengths compare unequal
/// (the length of the expected key is not secret enough to matter).
pub fn constant_time_eq(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Checks a presented internal key against the configured one (`None`: none is configured, so
/// every caller is refused).
pub fn verify_internal_key(given: &str, expected: Option<&str>) -> Result<(), AuthError> {
    let expected = expected.ok_or(AuthError::InternalKeyNotConfigured)?;
    if constant_time_eq(given, expected) { Ok(()) } else { Err(AuthError::BadInternalKey) }
}
