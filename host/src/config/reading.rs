//! Reading variables: a [`Reader`] that fills unset variables from the catalogue's defaults and
//! records every malformed value instead of stopping at the first, plus the parsers of the few
//! variables with a format of their own (`ALLOWED_ORIGINS`, `API_KEYS`, a database URL's password).
//!
//! Collecting problems is what lets an operator see every bad variable in one error; taking
//! defaults from the catalogue is what keeps each default written in one place.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::catalogue;
use super::secret::Secret;
use super::settings::{ApiKey, Environment};

/// Reads variables from a source for one environment, recording problems as it goes.
pub(super) struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    /// Read first, from `ENVIRONMENT`: some defaults depend on it.
    pub environment: Environment,
    pub problems: Vec<String>,
}

/// The lower bound of a duration setting.
#[derive(Clone, Copy)]
pub(super) enum Lowest {
    AtLeast(f64),
    MoreThan(f64),
}

impl Lowest {
    fn admits(self, secs: f64) -> bool {
        match self {
            Lowest::AtLeast(min) => secs >= min,
            Lowest::MoreThan(min) => secs > min,
        }
    }
}

impl fmt::Display for Lowest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lowest::AtLeast(min) => write!(f, "at least {min}"),
            Lowest::MoreThan(min) => write!(f, "more than {min}"),
        }
    }
}

impl<'a> Reader<'a> {
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Reader<'a> {
        let mut reader = Reader { get, environment: Environment::Development, problems: Vec::new() };
        reader.environment = reader.read_environment();
        reader
    }

    fn read_environment(&mut self) -> Environment {
        match self.text("ENVIRONMENT").to_ascii_lowercase().as_str() {
            "development" | "dev" => Environment::Development,
            "test" => Environment::Test,
            "staging" => Environment::Staging,
            "production" | "prod" => Environment::Production,
            other => {
                self.problems
                    .push(format!("ENVIRONMENT: expected development, test, staging or production, got {other:?}"));
                Environment::Development
            }
        }
    }

    /// The value an operator set (not blank), ignoring defaults.
    pub fn set(&self, name: &str) -> Option<String> {
        (self.get)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    /// The set value, or else the catalogue's default for this environment.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.set(name).or_else(|| self.default(name).map(str::to_string))
    }

    /// [`Reader::optional`] for a variable the catalogue always gives a default.
    pub fn text(&self, name: &str) -> String {
        with_default(name, self.optional(name))
    }

    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.optional(name).map(Secret::from)
    }

    pub fn parsed<T: FromStr>(&mut self, name: &str, what: &str) -> T {
        let value = self.read(name, what, |raw| raw.parse().ok());
        with_default(name, value)
    }

    /// A boolean, or `None` when unset without a default (the caller works the default out).
    pub fn flag(&mut self, name: &str) -> Option<bool> {
        self.read(name, "true or false", |raw| match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => None,
        })
    }

    pub fn bool(&mut self, name: &str) -> bool {
        let value = self.flag(name);
        with_default(name, value)
    }

    /// A duration in (fractional) seconds above `lowest` and at most `max`.
    pub fn seconds(&mut self, name: &str, lowest: Lowest, max: f64) -> Duration {
        const WHAT: &str = "a number of seconds";
        let secs: f64 = self.parsed(name, WHAT);
        if secs.is_finite() && lowest.admits(secs) && secs <= max {
            return Duration::from_secs_f64(secs);
        }
        self.problems.push(format!("{name}: expected {lowest} and at most {max} seconds, got {secs}"));
        Duration::from_secs_f64(with_default(name, self.parsed_default(name, WHAT, |raw| raw.parse().ok())))
    }

    /// A count of at least one (a limit of zero would refuse everything).
    pub fn count(&mut self, name: &str) -> usize {
        const WHAT: &str = "a count of at least 1";
        let value = self.read(name, WHAT, |raw| raw.parse::<usize>().ok().filter(|n| *n >= 1));
        with_default(name, value)
    }

    /// An http(s) URL without a trailing slash.
    pub fn url(&mut self, name: &str) -> String {
        let v = self.text(name);
        if !(v.starts_with("http://") || v.starts_with("https://")) {
            self.problems.push(format!("{name}: expected an http(s) URL, got {v:?}"));
        }
        v.trim_end_matches('/').to_string()
    }

    /// The set value parsed by `parse` (a malformed one is a problem, and the default stands in),
    /// or else the parsed default.
    fn read<T>(&mut self, name: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        if let Some(raw) = self.set(name) {
            if let Some(value) = parse(&raw) {
                return Some(value);
            }
            self.problems.push(format!("{name}: expected {what}, got {raw:?}"));
        }
        self.parsed_default(name, what, parse)
    }

    fn parsed_default<T>(&self, name: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let default = self.default(name)?;
        Some(parse(default).unwrap_or_else(|| panic!("ENV_VARS: the default of {name} is not {what}")))
    }

    fn default(&self, name: &str) -> Option<&'static str> {
        catalogue::default_value(name, self.environment)
    }
}

/// A variable's value where the catalogue promises a default; a missing one is a bug in ENV_VARS.
fn with_default<T>(name: &str, value: Option<T>) -> T {
    value.unwrap_or_else(|| panic!("ENV_VARS gives {name} no default value"))
}

/// `ALLOWED_ORIGINS` as a comma-separated list or a JSON array string, as the original accepted.
pub fn parse_origins(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if raw.starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<String>>(raw)
    {
        return list
            .into_iter()
            .map(|o| o.trim().trim_end_matches('/').to_string())
            .filter(|o| !o.is_empty())
            .collect();
    }
    raw.split(',').map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect()
}

/// An allowed origin must be a concrete `http(s)://host[:port]`: a wildcard cannot be combined
/// with credentialed CORS, and anything else would never match a browser's `Origin` header.
pub(super) fn check_origin(origin: &str) -> Result<(), &'static str> {
    let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    match rest {
        _ if origin.contains('*') => Err("is a wildcard; list the origins (credentials are allowed, so `*` cannot be)"),
        None => Err("is not an http(s) origin"),
        Some(host) if host.is_empty() || host.contains('/') => Err("must be scheme://host[:port] without a path"),
        Some(_) if axum::http::HeaderValue::from_str(origin).is_err() => {
            Err("contains characters a header cannot carry")
        }
        Some(_) => Ok(()),
    }
}

/// `API_KEYS`: comma-separated `key` or `key:user_id`; a bare key authenticates as `admin`.
pub fn parse_api_keys(raw: &str) -> Vec<ApiKey> {
    raw.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|entry| match entry.split_once(':') {
            Some((key, user)) if !user.trim().is_empty() => (key.trim(), user.trim()),
            Some((key, _)) => (key.trim(), "admin"),
            None => (entry, "admin"),
        })
        .map(|(key, user)| ApiKey { key: Secret::from(key), user_id: user.to_string() })
        .collect()
}

/// The password of a `postgres://user:password@host/db` URL.
pub(super) fn database_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    userinfo.split_once(':').map(|(_, password)| password).filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;

    #[test]
    fn malformed_numbers_are_reported_with_their_variable() {
        let err = load(&[("PORT", "eighty"), ("RATE_LIMIT_FREE", "-1"), ("HELICONE_ENABLED", "maybe")]).unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.problems[0].starts_with("PORT"));
    }

    #[test]
    fn origins_accept_a_list_or_a_json_array() {
        assert_eq!(parse_origins("https://a.com, https://b.com/"), vec!["https://a.com", "https://b.com"]);
        assert_eq!(parse_origins(r#"["https://a.com"]"#), vec!["https://a.com"]);
        assert!(parse_origins("").is_empty());
    }

    #[test]
    fn allowed_origins_must_be_concrete_origins() {
        assert!(load(&[("ALLOWED_ORIGINS", "https://app.example.com, http://localhost:3000")]).is_ok());
        for bad in ["*", "https://*.example.com", "app.example.com", "https://app.example.com/path", "ftp://x"] {
            let err = load(&[("ALLOWED_ORIGINS", bad)]).unwrap_err();
            assert!(err.problems[0].starts_with("ALLOWED_ORIGINS"), "{bad}: {err}");
        }
    }

    #[test]
    fn api_keys_map_to_users() {
        let keys = parse_api_keys("k1:user_1, k2");
        let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.key.expose(), k.user_id.as_str())).collect();
        assert_eq!(pairs, [("k1", "user_1"), ("k2", "admin")]);
    }

    #[test]
    fn limits_are_counts_of_at_least_one() {
        let c = load(&[("HTTP_MAX_CONNECTIONS", "2"), ("CONCURRENT_TURNS_PER_USER", "1")]).unwrap();
        assert_eq!((c.server.max_connections, c.server.concurrent_turns_per_user), (2, 1));
        for (name, value) in
            [("HTTP_MAX_CONNECTIONS", "0"), ("CONCURRENT_TURNS_PER_USER", "-1"), ("HTTP_MAX_CONNECTIONS", "many")]
        {
            let err = load(&[(name, value)]).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{name}={value}: {err}");
            assert!(err.problems[0].starts_with(name), "{err}");
        }
    }

    #[test]
    fn durations_must_be_finite_and_in_range() {
        let c = load(&[
            ("CLERK_JWKS_MIN_REFRESH_SECONDS", "0"),
            ("SHUTDOWN_GRACE_SECONDS", "0.5"),
            ("FUNCTION_TIMEOUT_SECONDS", "60"),
            ("PLUGINS_SYNC_SECONDS", "0.2"),
        ])
        .unwrap();
        assert_eq!(c.plugins.database_poll_interval, Duration::from_millis(200));
        assert_eq!(load(&[("PLUGINS_SYNC_SECONDS", "0")]).unwrap().plugins.database_poll_interval, Duration::ZERO);
        assert_eq!(c.auth.jwks_min_refresh, Duration::ZERO);
        assert_eq!(c.server.shutdown_grace, Duration::from_millis(500));
        assert_eq!(c.plugins.function_timeout, Duration::from_secs(60));
        for (name, value) in [
            ("CLERK_JWKS_MIN_REFRESH_SECONDS", "-1"),
            ("SHUTDOWN_GRACE_SECONDS", "NaN"),
            ("SHUTDOWN_GRACE_SECONDS", "inf"),
            ("FUNCTION_TIMEOUT_SECONDS", "0"),
            ("FUNCTION_TIMEOUT_SECONDS", "601"),
            ("FUNCTION_TIMEOUT_SECONDS", "soon"),
            ("PLUGINS_SYNC_SECONDS", "-1"),
            ("HTTP_HEADER_TIMEOUT_SECONDS", "0"),
            ("HTTP_IDLE_TIMEOUT_SECONDS", "3601"),
            ("SLOW_CLIENT_TIMEOUT_SECONDS", "never"),
        ] {
            let err = load(&[(name, value)]).unwrap_err();
            assert_eq!(err.problems.len(), 1, "{name}={value}: {err}");
            assert!(err.problems[0].starts_with(name), "{err}");
        }
    }
}
