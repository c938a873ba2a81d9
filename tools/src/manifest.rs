//! `plugin.toml`: what a plugin is (name, version, optional sha256 pin), what it may use (limits),
//! what it is told (`[config]`) and where it may send requests (`[[egress]]`, with the headers the
//! host adds on the way out). Parsing is strict: unknown keys, out-of-range limits, malformed
//! origins and `${VARIABLES}` missing from the environment are load errors naming the key.
//!
//! ```toml
//! name = "mapper"
//! version = "1.2.0"
//! sha256 = "…"                        # optional: refuse any other plugin.wasm
//!
//! [limits]
//! timeout_seconds = 30                # default FUNCTION_TIMEOUT_SECONDS
//! fuel = 5_000_000_000                # instructions, roughly
//! memory_bytes = 67_108_864           # across all linear memories
//! max_response_bytes = 10_485_760     # per HTTP response
//! max_result_bytes = 262_144          # the text handed to the model
//! max_concurrent_calls = 64
//! max_requests_in_flight = 8          # outgoing requests one call may have open at once
//!
//! [config]                            # handed to the plugin (never secrets)
//! base_url = "${MAPPER_API_URL}"
//!
//! [[egress]]
//! origin = "${MAPPER_API_URL}"        # scheme://host[:port]; "https://*.example.com" for subdomains
//! forward_user_auth = true            # the caller's Authorization + X-User-Id
//! headers = { X-Api-Key = "${MAPPER_KEY}" }   # secrets, added by the host
//! private_network = false             # allow a name resolving to a private (RFC 1918) address
//! ```

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Deserialize;

use crate::egress::{EgressPolicy, EgressRule};

/// Built-in limits, used where a manifest sets none.
pub mod defaults {
    pub const FUEL: u64 = 5_000_000_000;
    pub const MEMORY_BYTES: u64 = 64 << 20;
    pub const MAX_RESPONSE_BYTES: u64 = 10 << 20;
    pub const MAX_RESULT_BYTES: u64 = 256 << 10;
    pub const MAX_CONCURRENT_CALLS: u32 = 64;
    /// Outgoing requests one call may have open at once (at most `PLUGIN_MAX_REQUESTS_IN_FLIGHT`).
    pub const MAX_REQUESTS_IN_FLIGHT: u32 = 8;
    /// The longest call any manifest may ask for.
    pub const MAX_TIMEOUT_SECONDS: f64 = 600.0;
}

/// A parsed and validated `plugin.toml`.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// Lower-case hex sha256 the `plugin.wasm` must have.
    pub sha256: Option<String>,
    pub limits: Limits,
    /// Values handed to the guest through the `config` import.
    pub config: BTreeMap<String, String>,
    pub egress: EgressPolicy,
}

/// What one call may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    #[serde(serialize_with = "as_seconds")]
    pub timeout: Duration,
    pub fuel: u64,
    pub memory_bytes: u64,
    pub max_response_bytes: u64,
    pub max_result_bytes: u64,
    /// At most the host's `max_concurrent_calls`.
    pub max_concurrent_calls: u32,
    /// Outgoing requests one call may have open at once; one more is refused to the guest
    /// (`connection-limit-reached`). At most the host's `max_requests_in_flight`.
    pub max_requests_in_flight: u32,
}

fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Values the manifest is checked against.
#[derive(Clone, Debug)]
pub struct ManifestContext<'a> {
    pub env: &'a HashMap<String, String>,
    pub default_timeout: Duration,
    pub max_memory_bytes: u64,
    pub max_concurrent_calls: u32,
    pub max_requests_in_flight: u32,
}

/// Why a manifest was refused; the message names the offending key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    sha256: Option<String>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    config: BTreeMap<String, String>,
    #[serde(default)]
    egress: Vec<RawEgressRule>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    timeout_seconds: Option<f64>,
    fuel: Option<u64>,
    memory_bytes: Option<u64>,
    max_response_bytes: Option<u64>,
    max_result_bytes: Option<u64>,
    max_concurrent_calls: Option<u32>,
    max_requests_in_flight: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEgressRule {
    origin: String,
    #[serde(default)]
    forward_user_auth: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    private_network: bool,
}

impl Manifest {
    /// Parses `text` (the contents of a `plugin.toml`).
    pub fn parse(text: &str, cx: &ManifestContext<'_>) -> Result<Manifest, ManifestError> {
        let raw: RawManifest =
            toml::from_str(text).map_err(|e| ManifestError(format!("plugin.toml: {}", e.message())))?;
        let mut problems = Vec::new();

        if !valid_plugin_name(&raw.name) {
            problems.push(format!("name: {:?} must match [a-z0-9][a-z0-9_-]{{0,63}}", raw.name));
        }
        if raw.version.trim().is_empty() || raw.version.len() > 64 {
            problems.push("version: must be 1 to 64 characters".to_string());
        }
        let sha256 = raw.sha256.map(|pin| pin.trim().to_ascii_lowercase());
        if let Some(pin) = &sha256
            && (pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            problems.push("sha256: must be 64 hexadecimal characters".to_string());
        }

        let limits = limits(&raw.limits, cx, &mut problems);

        let mut config = BTreeMap::new();
        for (key, value) in raw.config {
            match interpolate(&value, cx.env) {
                Ok(value) => {
                    config.insert(key, value);
                }
                Err(missing) => problems.push(format!("config.{key}: {missing}")),
            }
        }

        let mut rules = Vec::new();
        for (i, rule) in raw.egress.into_iter().enumerate() {
            let at = format!("egress[{i}]");
            let origin = match interpolate(&rule.origin, cx.env) {
                Ok(origin) => origin,
                Err(missing) => {
                    problems.push(format!("{at}.origin: {missing}"));
                    continue;
                }
            };
            let mut headers = Vec::new();
            for (name, value) in rule.headers {
                match interpolate(&value, cx.env) {
                    Ok(value) => headers.push((name, value)),
                    Err(missing) => problems.push(format!("{at}.headers.{name}: {missing}")),
                }
            }
            match EgressRule::new(&origin, rule.forward_user_auth, rule.private_network, headers) {
                Ok(rule) => rules.push(rule),
                Err(why) => problems.push(format!("{at}: {why}")),
            }
        }

        if problems.is_empty() {
            Ok(Manifest {
                name: raw.name,
                version: raw.version,
                sha256,
                limits,
                config,
                egress: EgressPolicy::new(rules),
            })
        } else {
            Err(ManifestError(format!("plugin.toml: {}", problems.join("; "))))
        }
    }
}

fn limits(raw: &RawLimits, cx: &ManifestContext<'_>, problems: &mut Vec<String>) -> Limits {
    let timeout = match raw.timeout_seconds {
        None => cx.default_timeout,
        Some(s) if s > 0.0 && s <= defaults::MAX_TIMEOUT_SECONDS => Duration::from_secs_f64(s),
        Some(s) => {
            problems.push(format!("limits.timeout_seconds: {s} is not in (0, {}]", defaults::MAX_TIMEOUT_SECONDS));
            cx.default_timeout
        }
    };
    let mut ranged = |key: &str, value: Option<u64>, default: u64, min: u64, max: u64| -> u64 {
        match value {
            None => default.min(max),
            Some(v) if (min..=max).contains(&v) => v,
            Some(v) => {
                problems.push(format!("limits.{key}: {v} is not in [{min}, {max}]"));
                default.min(max)
            }
        }
    };
    let fuel = ranged("fuel", raw.fuel, defaults::FUEL, 10_000, u64::MAX / 2);
    let memory_bytes = ranged("memory_bytes", raw.memory_bytes, defaults::MEMORY_BYTES, 1 << 20, cx.max_memory_bytes);
    let max_response_bytes =
        ranged("max_response_bytes", raw.max_response_bytes, defaults::MAX_RESPONSE_BYTES, 1, 1 << 32);
    let max_result_bytes = ranged("max_result_bytes", raw.max_result_bytes, defaults::MAX_RESULT_BYTES, 1, 64 << 20);
    // More than the host's pool can run at once is allowed, but means no more than the pool.
    let max_concurrent_calls = ranged(
        "max_concurrent_calls",
        raw.max_concurrent_calls.map(u64::from),
        u64::from(defaults::MAX_CONCURRENT_CALLS),
        1,
        100_000,
    )
    .min(u64::from(cx.max_concurrent_calls)) as u32;
    let max_requests_in_flight = ranged(
        "max_requests_in_flight",
        raw.max_requests_in_flight.map(u64::from),
        u64::from(defaults::MAX_REQUESTS_IN_FLIGHT),
        1,
        u64::from(cx.max_requests_in_flight),
    ) as u32;
    Limits {
        timeout,
        fuel,
        memory_bytes,
        max_response_bytes,
        max_result_bytes,
        max_concurrent_calls,
        max_requests_in_flight,
    }
}

/// Plugin names: `[a-z0-9][a-z0-9_-]{0,63}` (they name directories, metrics and state scopes).
pub fn valid_plugin_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

/// Replaces `${NAME}` with the variable's value and `${NAME:-fallback}` with the value or the
/// fallback; `$$` is a literal `$`. A variable that is not set (and has no fallback) is an error
/// naming it. Values are never echoed in errors (they may be secrets).
pub fn interpolate(text: &str, env: &HashMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                return Err("unterminated ${…}".to_string());
            };
            let expr = &inner[..end];
            let (name, fallback) = match expr.split_once(":-") {
                Some((name, fallback)) => (name, Some(fallback)),
                None => (expr, None),
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("invalid variable name ${{{name}}}"));
            }
            match (env.get(name), fallback) {
                (Some(value), _) => out.push_str(value),
                (None, Some(fallback)) => out.push_str(fallback),
                (None, None) => missing.push(name.to_string()),
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "environment variable {} is not set",
            missing.iter().map(|m| format!("${{{m}}}")).collect::<Vec<_>>().join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(env: &HashMap<String, String>) -> ManifestContext<'_> {
        ManifestContext {
            env,
            default_timeout: Duration::from_secs(30),
            max_memory_bytes: 1 << 30,
            max_concurrent_calls: 256,
            max_requests_in_flight: 16,
        }
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_minimal_manifest_gets_the_defaults() {
        let e = env(&[]);
        let m = Manifest::parse("name = \"echo\"\nversion = \"1.0.0\"\n", &cx(&e)).unwrap();
        assert_eq!(m.limits.timeout, Duration::from_secs(30));
        assert_eq!(m.limits.memory_bytes, defaults::MEMORY_BYTES);
        assert_eq!(m.limits.max_concurrent_calls, defaults::MAX_CONCURRENT_CALLS);
        assert!(m.sha256.is_none() && m.config.is_empty() && m.egress.rules().is_empty());
    }

    #[test]
    fn a_full_manifest_is_interpolated() {
        let e = env(&[("MAPPER_API_URL", "http://localhost:8001"), ("KEY", "s3cret")]);
        let text = r#"
            name = "mapper"
            version = "1.2.0"
            sha256 = "AB00000000000000000000000000000000000000000000000000000000000000"
            [limits]
            timeout_seconds = 2.5
            fuel = 1000000
            memory_bytes = 16777216
            [config]
            base_url = "${MAPPER_API_URL}/v1"
            price = "$$5"
            [[egress]]
            origin = "${MAPPER_API_URL}"
            forward_user_auth = true
            headers = { X-Api-Key = "Key ${KEY}" }
        "#;
        let m = Manifest::parse(text, &cx(&e)).unwrap();
        assert_eq!(m.sha256.as_deref(), Some("ab00000000000000000000000000000000000000000000000000000000000000"));
        assert_eq!(m.limits.timeout, Duration::from_millis(2500));
        assert_eq!(m.limits.fuel, 1_000_000);
        assert_eq!(m.config["base_url"], "http://localhost:8001/v1");
        assert_eq!(m.config["price"], "$5");
        let rule = &m.egress.rules()[0];
        assert!(rule.forward_user_auth);
        assert_eq!(rule.headers[0].1, "Key s3cret");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = env(&[]);
        for text in [
            "name = \"a\"\nversion = \"1\"\nextra = 1\n",
            "name = \"a\"\nversion = \"1\"\n[limits]\ntimeout = 3\n",
            "name = \"a\"\nversion = \"1\"\n[[egress]]\norigin = \"http://x\"\nforward_auth = true\n",
        ] {
            let err = Manifest::parse(text, &cx(&e)).unwrap_err().0;
            assert!(err.contains("unknown field"), "{err}");
        }
    }

    #[test]
    fn missing_variables_are_named_and_values_never_shown() {
        let e = env(&[("PRESENT", "secret-value")]);
        let text = r#"
            name = "a"
            version = "1"
            [config]
            url = "${ABSENT_URL}"
            [[egress]]
            origin = "http://h"
            headers = { Authorization = "Bearer ${ABSENT_KEY} ${PRESENT}" }
        "#;
        let err = Manifest::parse(text, &cx(&e)).unwrap_err().0;
        assert!(err.contains("config.url: environment variable ${ABSENT_URL} is not set"), "{err}");
        assert!(err.contains("egress[0].headers.Authorization: environment variable ${ABSENT_KEY}"), "{err}");
        assert!(!err.contains("secret-value"));
    }

    #[test]
    fn fallbacks_apply_only_when_unset() {
        let e = env(&[("SET", "a")]);
        assert_eq!(interpolate("${SET:-b}/${UNSET:-c}", &e).unwrap(), "a/c");
        assert!(interpolate("${", &e).is_err());
        assert!(interpolate("${BAD NAME}", &e).is_err());
    }

    #[test]
    fn limits_out_of_range_are_errors() {
        let e = env(&[]);
        let text = "name = \"a\"\nversion = \"1\"\n[limits]\ntimeout_seconds = 0\nmemory_bytes = 4294967296\nmax_concurrent_calls = 0\n";
        let err = Manifest::parse(text, &cx(&e)).unwrap_err().0;
        assert!(err.contains("limits.timeout_seconds") && err.contains("limits.memory_bytes"), "{err}");
        assert!(err.contains("limits.max_concurrent_calls"), "{err}");
    }

    #[test]
    fn requests_in_flight_default_to_eight_and_never_exceed_the_hosts_maximum() {
        let e = env(&[]);
        let parse =
            |extra: &str| Manifest::parse(&format!("name = \"a\"\nversion = \"1\"\n[limits]\n{extra}"), &cx(&e));
        assert_eq!(parse("").unwrap().limits.max_requests_in_flight, defaults::MAX_REQUESTS_IN_FLIGHT);
        assert_eq!(parse("max_requests_in_flight = 16\n").unwrap().limits.max_requests_in_flight, 16);
        let err = parse("max_requests_in_flight = 17\n").unwrap_err().0;
        assert!(err.contains("limits.max_requests_in_flight: 17 is not in [1, 16]"), "{err}");
    }

    #[test]
    fn names_and_pins_are_checked() {
        let e = env(&[]);
        let err = Manifest::parse("name = \"Bad Name\"\nversion = \"1\"\nsha256 = \"xyz\"\n", &cx(&e)).unwrap_err().0;
        assert!(err.contains("name:") && err.contains("sha256:"), "{err}");
    }
}
