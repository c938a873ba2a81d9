//! The rules `ENVIRONMENT=production` adds: the variables that must be set, and the development
//! conveniences that must not reach a deployment (public default secrets, SQLite, plain-http Clerk).
//!
//! Development needs no variables at all; this file is why production still cannot start
//! half-configured. Its problems join the parser's, so one error names everything to fix.

use super::catalogue::{DEFAULT_INTERNAL_API_KEY, DEFAULT_JWT_SECRET};
use super::reading::Reader;
use super::settings::AuthConfig;

/// The variables production refuses to start without.
pub const PRODUCTION_REQUIRED: &[&str] = &[
    "DATABASE_URL",
    "CLERK_DOMAIN",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "ALLOWED_ORIGINS",
    "INTERNAL_API_KEY",
    "JWT_SECRET",
];

/// Production's problems with what `r` read (`auth` as parsed from it), one line per variable.
pub(super) fn check_production(r: &Reader<'_>, auth: &AuthConfig) -> Vec<String> {
    let mut problems = Vec::new();
    for &name in PRODUCTION_REQUIRED {
        if r.set(name).is_none() {
            problems.push(format!("{name}: required in production"));
        }
    }
    // Unset is reported above; a set secret must be neither the public default nor short.
    if let Some(secret) = r.set("JWT_SECRET") {
        if secret == DEFAULT_JWT_SECRET {
            problems.push("JWT_SECRET: the development default must not be used in production".to_string());
        } else if secret.len() < 32 {
            problems.push("JWT_SECRET: must be at least 32 characters in production".to_string());
        }
    }
    if auth.internal_api_key.as_ref().is_some_and(|key| key.expose() == DEFAULT_INTERNAL_API_KEY) {
        problems.push("INTERNAL_API_KEY: the development default must not be used in production".to_string());
    }
    if let Some(url) = r.set("DATABASE_URL")
        && url.starts_with("sqlite:")
    {
        problems.push("DATABASE_URL: production needs Postgres, not SQLite".to_string());
    }
    if let Some(domain) = &auth.clerk_domain
        && domain.starts_with("http://")
    {
        problems.push("CLERK_DOMAIN: plain http is not allowed in production".to_string());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigError, load};

    /// A production environment that passes every check, to vary one variable at a time.
    const PRODUCTION: &[(&str, &str)] = &[
        ("ENVIRONMENT", "production"),
        ("DATABASE_URL", "postgres://chat:pw@db.example.com/chat"),
        ("CLERK_DOMAIN", "clerk.example.com"),
        ("ANTHROPIC_API_KEY", "sk-ant-k"),
        ("OPENAI_API_KEY", "sk-k"),
        ("ALLOWED_ORIGINS", "https://app.example.com"),
        ("INTERNAL_API_KEY", "a-long-random-internal-key"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    fn production_with(changes: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut vars: Vec<(&str, &str)> =
            PRODUCTION.iter().filter(|(k, _)| !changes.iter().any(|(c, _)| c == k)).copied().collect();
        vars.extend_from_slice(changes);
        load(&vars)
    }

    #[test]
    fn production_names_every_missing_variable_in_one_error() {
        let err = load(&[("ENVIRONMENT", "production")]).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), PRODUCTION_REQUIRED.len(), "{text}");
        for name in PRODUCTION_REQUIRED {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
    }

    #[test]
    fn production_refuses_known_default_secrets() {
        let err = load(&[
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", "postgres://db/chat"),
            ("CLERK_DOMAIN", "clerk.example.com"),
            ("ANTHROPIC_API_KEY", "k"),
            ("OPENAI_API_KEY", "k"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
            ("INTERNAL_API_KEY", DEFAULT_INTERNAL_API_KEY),
            ("JWT_SECRET", DEFAULT_JWT_SECRET),
        ])
        .unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(err.to_string().contains("JWT_SECRET"));
        assert!(err.to_string().contains("INTERNAL_API_KEY"));
    }

    #[test]
    fn a_complete_production_environment_is_accepted() {
        let c = production_with(&[]).unwrap();
        assert!(c.environment.is_production());
        assert!(c.telemetry.json_logs, "production logs JSON by default");
    }

    #[test]
    fn production_refuses_sqlite_short_secrets_and_plain_http_clerk() {
        for (change, variable) in [
            (("DATABASE_URL", "sqlite://data/chat.db"), "DATABASE_URL"),
            (("JWT_SECRET", "too-short"), "JWT_SECRET"),
            (("CLERK_DOMAIN", "http://clerk.example.com"), "CLERK_DOMAIN"),
            (("ALLOWED_ORIGINS", "*"), "ALLOWED_ORIGINS"),
        ] {
            let err = production_with(&[change]).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{err}");
            assert!(err.problems[0].starts_with(variable), "{err}");
            assert!(!err.to_string().contains("too-short"), "secrets are not echoed: {err}");
        }
    }
}
