//! The rules `ENVIRONMENT=production` adds: the variables that must be set, and the development
//! conveniences that must not reach a deployment (public default secrets, SQLite, plain-http Clerk,
//! an open `/metrics`).
//!
//! Development needs no variables at all; this file is why production still cannot start
//! half-configured. Its problems join the parser's, so one error names everything to fix.
//!
//! The three service keys are separate powers: `INTERNAL_API_KEY` (mapper-api's calls),
//! `ADMIN_API_KEY` (installing code) and `METRICS_TOKEN` (reading metrics). Whoever holds one must
//! not hold another by accident, so the admin key and the metrics token must each differ from every
//! other secret of the service, and the admin key must be long and not a published default.

use super::Config;
use super::catalogue::{
    DEFAULT_ADMIN_API_KEY, DEFAULT_INTERNAL_API_KEY, DEFAULT_JWT_SECRET, DEFAULT_PLUGIN_SECRETS_KEY,
};
use super::reading::Reader;

/// The variables production refuses to start without (`METRICS_TOKEN` too, unless metrics are
/// off: see [`check_production`]).
pub const PRODUCTION_REQUIRED: &[&str] = &[
    "DATABASE_URL",
    "CLERK_DOMAIN",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "ALLOWED_ORIGINS",
    "INTERNAL_API_KEY",
    "ADMIN_API_KEY",
    "JWT_SECRET",
    "PLUGIN_SECRETS_KEY",
];

/// The least length of `ADMIN_API_KEY` (and of `JWT_SECRET`) in production.
const MIN_KEY_LENGTH: usize = 32;

/// Values published in this repository: never a production secret.
const KNOWN_DEFAULTS: [&str; 4] =
    [DEFAULT_ADMIN_API_KEY, DEFAULT_INTERNAL_API_KEY, DEFAULT_JWT_SECRET, DEFAULT_PLUGIN_SECRETS_KEY];

/// Production's problems with what `r` read (`config` as parsed from it), one line per variable.
pub(super) fn check_production(r: &Reader<'_>, config: &Config) -> Vec<String> {
    let auth = &config.auth;
    let mut problems = Vec::new();
    for &name in PRODUCTION_REQUIRED {
        if r.set(name).is_none() {
            problems.push(format!("{name}: required in production"));
        }
    }
    if config.telemetry.metrics_enabled && r.set("METRICS_TOKEN").is_none() {
        problems.push("METRICS_TOKEN: required in production while METRICS_ENABLED=true".to_string());
    }
    // Unset is reported above; a set secret must be neither the public default nor short.
    if let Some(secret) = r.set("JWT_SECRET") {
        if secret == DEFAULT_JWT_SECRET {
            problems.push("JWT_SECRET: the development default must not be used in production".to_string());
        } else if secret.len() < MIN_KEY_LENGTH {
            problems.push(format!("JWT_SECRET: must be at least {MIN_KEY_LENGTH} characters in production"));
        }
    }
    if auth.internal_api_key.as_ref().is_some_and(|key| key.expose() == DEFAULT_INTERNAL_API_KEY) {
        problems.push("INTERNAL_API_KEY: the development default must not be used in production".to_string());
    }
    if r.set("PLUGIN_SECRETS_KEY").as_deref() == Some(DEFAULT_PLUGIN_SECRETS_KEY) {
        problems.push("PLUGIN_SECRETS_KEY: the development default must not be used in production".to_string());
    }
    if let Some(key) = &auth.admin_api_key {
        let key = key.expose();
        if KNOWN_DEFAULTS.contains(&key) {
            problems.push("ADMIN_API_KEY: a published default must not be used in production".to_string());
        } else if key.chars().count() < MIN_KEY_LENGTH {
            problems.push(format!("ADMIN_API_KEY: must be at least {MIN_KEY_LENGTH} characters in production"));
        }
    }
    for name in ["ADMIN_API_KEY", "METRICS_TOKEN"] {
        problems.extend(shared_with_another_secret(config, name));
    }
    problems.extend(signature_problems(&config.plugins.signatures));
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

/// Production loads only plugins an operator vouched for: `off` is refused, and so is `enforce`
/// with no key to check against (it would refuse every plugin).
fn signature_problems(signatures: &tools::SignatureSettings) -> Option<String> {
    match signatures.policy {
        tools::SignaturePolicy::Off => Some("PLUGIN_SIGNATURES: off is not allowed in production".to_string()),
        tools::SignaturePolicy::Enforce if signatures.trusted_keys.is_empty() => Some(
            "PLUGIN_TRUSTED_KEYS: required in production while PLUGIN_SIGNATURES=enforce (the public key the plugins are signed with)"
                .to_string(),
        ),
        _ => None,
    }
}

/// A problem when the secret of variable `name` is also the value of another secret variable
/// (named, never shown).
fn shared_with_another_secret(config: &Config, name: &str) -> Option<String> {
    let secrets = config.named_secrets();
    let (_, value) = secrets.iter().find(|(n, _)| *n == name)?;
    let mut others: Vec<&str> = secrets.iter().filter(|(n, v)| *n != name && v == value).map(|(n, _)| *n).collect();
    others.dedup();
    (!others.is_empty()).then(|| format!("{name}: must differ from {}", others.join(" and ")))
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
        ("ADMIN_API_KEY", "an-admin-key-of-forty-random-characters-0"),
        ("METRICS_TOKEN", "a-metrics-token-for-prometheus"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("PLUGIN_SECRETS_KEY", "cHJvZHVjdGlvbi1wbHVnaW4tc2VjcmV0cy1rZXktMzI="),
        ("PLUGIN_TRUSTED_KEYS", TRUSTED_KEY),
    ];

    /// A minisign public key (its secret half is unknown: nothing here signs).
    const TRUSTED_KEY: &str = "RWQBI0VniavN7wy85CEv3HDqvDUuBPH9QEXrXefSP8Qc07CGM0GC0lBI";

    fn production_with<'a>(changes: &[(&'a str, &'a str)]) -> Result<Config, ConfigError> {
        let mut vars: Vec<(&str, &str)> =
            PRODUCTION.iter().filter(|(k, _)| !changes.iter().any(|(c, _)| c == k)).copied().collect();
        vars.extend_from_slice(changes);
        load(&vars)
    }

    #[test]
    fn production_names_every_missing_variable_in_one_error() {
        let err = load(&[("ENVIRONMENT", "production")]).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), PRODUCTION_REQUIRED.len() + 2, "{text}");
        for name in PRODUCTION_REQUIRED.iter().chain(&["METRICS_TOKEN", "PLUGIN_TRUSTED_KEYS"]) {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
    }

    #[test]
    fn the_metrics_token_is_required_only_while_metrics_are_served() {
        let err = production_with(&[("METRICS_TOKEN", "")]).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(err.problems[0].starts_with("METRICS_TOKEN"), "{err}");
        assert!(production_with(&[("METRICS_TOKEN", ""), ("METRICS_ENABLED", "false")]).is_ok());
    }

    #[test]
    fn production_refuses_an_admin_key_that_is_short_published_or_shared() {
        let internal = PRODUCTION.iter().find(|(k, _)| *k == "INTERNAL_API_KEY").unwrap().1;
        let metrics = PRODUCTION.iter().find(|(k, _)| *k == "METRICS_TOKEN").unwrap().1;
        for (admin_key, expected) in [
            ("", "ADMIN_API_KEY: required in production"),
            ("a-short-admin-key", "ADMIN_API_KEY: must be at least 32 characters in production"),
            (DEFAULT_ADMIN_API_KEY, "ADMIN_API_KEY: a published default must not be used in production"),
            (DEFAULT_JWT_SECRET, "ADMIN_API_KEY: a published default must not be used in production"),
        ] {
            let err = production_with(&[("ADMIN_API_KEY", admin_key)]).unwrap_err();
            assert_eq!(err.problems, [expected], "{admin_key}");
        }
        // The same value under two names: named twice (once per rule), the value never.
        let err = production_with(&[("ADMIN_API_KEY", metrics), ("METRICS_TOKEN", metrics)]).unwrap_err();
        assert!(err.problems.iter().any(|p| p == "ADMIN_API_KEY: must differ from METRICS_TOKEN"), "{err}");
        assert!(err.problems.iter().any(|p| p == "METRICS_TOKEN: must differ from ADMIN_API_KEY"), "{err}");
        let long_internal = "an-internal-key-that-is-long-enough-for-admin";
        let err =
            production_with(&[("INTERNAL_API_KEY", long_internal), ("ADMIN_API_KEY", long_internal)]).unwrap_err();
        assert_eq!(err.problems, ["ADMIN_API_KEY: must differ from INTERNAL_API_KEY"]);
        let err = production_with(&[("METRICS_TOKEN", internal)]).unwrap_err();
        assert_eq!(err.problems, ["METRICS_TOKEN: must differ from INTERNAL_API_KEY"]);
        let api_keys = format!("{metrics}:user_1");
        let err = production_with(&[("API_KEYS", &api_keys)]).unwrap_err();
        assert_eq!(err.problems, ["METRICS_TOKEN: must differ from API_KEYS"]);
        for problem in err.problems {
            assert!(!problem.contains(metrics) && !problem.contains(internal), "{problem}");
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
            ("ADMIN_API_KEY", DEFAULT_ADMIN_API_KEY),
            ("METRICS_ENABLED", "false"),
            ("JWT_SECRET", DEFAULT_JWT_SECRET),
            ("PLUGIN_SECRETS_KEY", DEFAULT_PLUGIN_SECRETS_KEY),
            ("PLUGIN_TRUSTED_KEYS", TRUSTED_KEY),
        ])
        .unwrap_err();
        assert_eq!(err.problems.len(), 4, "{err}");
        assert!(err.to_string().contains("PLUGIN_SECRETS_KEY: the development default"));
        assert!(err.to_string().contains("JWT_SECRET"));
        assert!(err.to_string().contains("INTERNAL_API_KEY"));
        assert!(err.to_string().contains("ADMIN_API_KEY"));
    }

    #[test]
    fn production_refuses_unchecked_plugins_and_enforce_without_a_key() {
        let c = production_with(&[]).unwrap();
        assert_eq!(c.plugins.signatures.policy, tools::SignaturePolicy::Enforce, "production enforces by default");
        assert_eq!(c.plugins.signatures.trusted_keys.ids(), ["EFCDAB8967452301"]);
        let err = production_with(&[("PLUGIN_SIGNATURES", "off")]).unwrap_err();
        assert_eq!(err.problems, ["PLUGIN_SIGNATURES: off is not allowed in production"]);
        let err = production_with(&[("PLUGIN_TRUSTED_KEYS", "")]).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(err.problems[0].starts_with("PLUGIN_TRUSTED_KEYS: required in production"), "{err}");
        // `warn` without a key is a choice production allows (every plugin loads, flagged).
        assert!(production_with(&[("PLUGIN_TRUSTED_KEYS", ""), ("PLUGIN_SIGNATURES", "warn")]).is_ok());
        let err = production_with(&[("PLUGIN_TRUSTED_KEYS", "not-a-key")]).unwrap_err();
        assert!(err.problems.iter().any(|p| p.starts_with("PLUGIN_TRUSTED_KEYS: ")), "{err}");
        // Development warns by default.
        let dev = load(&[]).unwrap();
        assert_eq!(dev.plugins.signatures.policy, tools::SignaturePolicy::Warn);
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
            (("PLUGIN_SECRETS_KEY", "too-short"), "PLUGIN_SECRETS_KEY"),
        ] {
            let err = production_with(&[change]).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{err}");
            assert!(err.problems[0].starts_with(variable), "{err}");
            assert!(!err.to_string().contains("too-short"), "secrets are not echoed: {err}");
        }
    }
}
