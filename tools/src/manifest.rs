//! `plugin.toml`: what a plugin is (name, version, optional sha256 pin), what it may use (limits),
//! what it is told (`[config]`) and where it may send requests (`[[egress]]`, with the headers the
//! host adds on the way out). Parsing is strict: unknown keys, out-of-range limits, malformed
//! origins and values that are not set are load errors naming the key.
//!
//! Values come from the plugin's settings and secrets ([`crate::plugin_values`]):
//! `${setting:NAME}` anywhere, `${setting:NAME:-fallback}` with a fallback, and `${secret:NAME}`
//! only in a header of an exact (non-wildcard) origin: a secret in `[config]` would enter the
//! sandbox, in an origin it would be sent as part of the URL, and under a wildcard any tenant of
//! the suffix would receive it ([`SECRETS_RULE`]).
//!
//! ```toml
//! name = "mapper"
//! version = "1.2.0"
//! sha256 = "…"                        # optional: refuse any other plugin.wasm
//! error_codes = ["quota_full"]        # own error codes counted apart in metrics (at most 32)
//!
//! [limits]
//! timeout_seconds = 30                # default FUNCTION_TIMEOUT_SECONDS
//! fuel = 5_000_000_000                # instructions, roughly
//! memory_bytes = 67_108_864           # across all linear memories
//! max_response_bytes = 10_485_760     # per HTTP response
//! max_result_bytes = 262_144          # the text handed to the model
//! max_concurrent_calls = 64
//! state_max_keys = 1000               # live state keys per user; default PLUGIN_STATE_MAX_KEYS
//! state_max_bytes = 8_388_608         # state bytes (keys + values) per user; default PLUGIN_STATE_MAX_BYTES
//! max_requests_in_flight = 8          # outgoing requests one call may have open at once
//!
//! [config]                            # handed to the plugin (never secrets)
//! base_url = "${setting:MAPPER_API_URL}"
//!
//! [[egress]]
//! origin = "${setting:MAPPER_API_URL}" # scheme://host[:port]; "https://*.example.com" for subdomains
//! forward_user_auth = true            # the caller's Authorization + X-User-Id
//! headers = { X-Api-Key = "${secret:MAPPER_KEY}" }   # secrets, added by the host
//! private_network = false             # allow a name resolving to a private (RFC 1918) address
//! ```

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Deserialize;

use crate::egress::{EgressPolicy, EgressRule, Host, Origin};
use crate::plugin_values::{PluginValues, ValueKind, ValueLookup};

/// The rule a secret outside an egress header of an exact origin breaks.
pub const SECRETS_RULE: &str = "secrets only in egress headers of exact origins";
/// The rule that keeps the host's own secrets (`OPENAI_API_KEY`) on their own service.
pub const HOST_SECRETS_RULE: &str = "host secrets only to their own service";

/// Whether two origin texts name the same origin (default ports filled in); unparsable: no.
fn same_origin(a: &str, b: &str) -> bool {
    matches!((Origin::parse(a), Origin::parse(b)), (Ok(a), Ok(b)) if a == b)
}

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
    /// Error codes of its own the plugin declares: its metrics and statistics count these apart
    /// (besides the fixed ones); any other code counts as `plugin_error` there.
    pub error_codes: Vec<String>,
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
    /// Live state keys per user (at most the host's `state_max_keys`).
    pub state_max_keys: u64,
    /// Bytes of state keys and values per user (at most the host's `state_max_bytes`).
    pub state_max_bytes: u64,
    /// Outgoing requests one call may have open at once; one more is refused to the guest
    /// (`connection-limit-reached`). At most the host's `max_requests_in_flight`.
    pub max_requests_in_flight: u32,
}

/// The most error codes a manifest may declare.
pub const MAX_ERROR_CODES: usize = 32;

fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Values the manifest is checked against.
#[derive(Clone, Debug)]
pub struct ManifestContext<'a> {
    /// Every plugin's stored settings and secrets, by plugin name.
    pub stored: &'a HashMap<String, PluginValues>,
    /// What a value not stored for the plugin falls back to.
    pub defaults: &'a PluginValues,
    pub default_timeout: Duration,
    pub max_memory_bytes: u64,
    pub max_concurrent_calls: u32,
    /// The most state a manifest may ask for per user.
    pub max_state_keys: u64,
    pub max_state_bytes: u64,
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
    error_codes: Vec<String>,
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
    state_max_keys: Option<u64>,
    state_max_bytes: Option<u64>,
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
        if raw.error_codes.len() > MAX_ERROR_CODES {
            problems.push(format!("error_codes: at most {MAX_ERROR_CODES} codes"));
        }
        for code in raw.error_codes.iter().filter(|code| !crate::outcome::valid_code(code)) {
            problems.push(format!("error_codes: {code:?} must match [a-z0-9_]{{1,64}}"));
        }
        let values = ValueLookup { stored: cx.stored.get(&raw.name), defaults: cx.defaults };

        let mut config = BTreeMap::new();
        for (key, value) in raw.config {
            match interpolate(&value, &values, None) {
                Ok(value) => {
                    config.insert(key, value);
                }
                Err(missing) => problems.push(format!("config.{key}: {missing}")),
            }
        }

        let mut rules = Vec::new();
        for (i, rule) in raw.egress.into_iter().enumerate() {
            let at = format!("egress[{i}]");
            let origin = match interpolate(&rule.origin, &values, None) {
                Ok(origin) => origin,
                Err(missing) => {
                    problems.push(format!("{at}.origin: {missing}"));
                    continue;
                }
            };
            // A wildcard would hand the secret to every tenant of the suffix. (An origin that does
            // not parse is reported by `EgressRule::new`.)
            let exact = Origin::parse(&origin).is_ok_and(|o| !matches!(o.host, Host::Wildcard(_)));
            let mut headers = Vec::new();
            for (name, value) in rule.headers {
                match interpolate(&value, &values, exact.then_some(origin.as_str())) {
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
                error_codes: raw.error_codes,
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
    // A plugin may keep less state than the operator allows, never more.
    let state_max_keys = ranged("state_max_keys", raw.state_max_keys, cx.max_state_keys, 0, cx.max_state_keys);
    let state_max_bytes = ranged("state_max_bytes", raw.state_max_bytes, cx.max_state_bytes, 0, cx.max_state_bytes);
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
        state_max_keys,
        state_max_bytes,
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

/// Replaces `${setting:NAME}` and `${secret:NAME}` with the plugin's value (its stored one, else
/// the host's default) and `${KIND:NAME:-fallback}` with the value or the fallback; `$$` is a
/// literal `$`. Secrets are allowed only in a header of the exact origin `header_origin` (else
/// [`SECRETS_RULE`]), and a host default secret only to its own origin ([`HOST_SECRETS_RULE`]); a
/// value that is not set (and has no fallback) is an error naming it. Values are never echoed in
/// errors (they may be secrets).
pub fn interpolate(text: &str, values: &ValueLookup<'_>, header_origin: Option<&str>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
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
            rest = &inner[end + 1..];
            let (reference, fallback) = match expr.split_once(":-") {
                Some((reference, fallback)) => (reference, Some(fallback)),
                None => (expr, None),
            };
            let (kind, name) = match reference.split_once(':') {
                Some(("setting", name)) => (ValueKind::Setting, name),
                Some(("secret", name)) => (ValueKind::Secret, name),
                _ => {
                    problems.push(format!(
                        "${{{reference}}} names no setting or secret: write ${{setting:NAME}} or ${{secret:NAME}}"
                    ));
                    continue;
                }
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("invalid {} name ${{{reference}}}", kind.as_str()));
            }
            if kind == ValueKind::Secret {
                let Some(origin) = header_origin else {
                    problems.push(format!("${{{reference}}} is refused by policy rule \"{SECRETS_RULE}\""));
                    continue;
                };
                if let Some(bound) = values.secret_origin(name)
                    && !same_origin(bound, origin)
                {
                    problems.push(format!(
                        "${{{reference}}} to {origin} is refused by policy rule \"{HOST_SECRETS_RULE}\" (it goes to {bound} only)"
                    ));
                    continue;
                }
            }
            match (values.get(kind, name), fallback) {
                (Some(value), _) => out.push_str(value),
                (None, Some(fallback)) => out.push_str(fallback),
                (None, None) => problems.push(format!("{} {name} is not set", kind.as_str())),
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    if problems.is_empty() { Ok(out) } else { Err(problems.join(", ")) }
}

#[cfg(test)]
impl<'a> ManifestContext<'a> {
    /// The operator's defaults, for unit tests that parse manifests.
    pub(crate) fn for_tests(
        stored: &'a HashMap<String, PluginValues>,
        defaults: &'a PluginValues,
    ) -> ManifestContext<'a> {
        ManifestContext {
            stored,
            defaults,
            default_timeout: Duration::from_secs(30),
            max_memory_bytes: 1 << 30,
            max_concurrent_calls: 256,
            max_state_keys: 1000,
            max_state_bytes: 8 << 20,
            max_requests_in_flight: 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx<'a>(stored: &'a HashMap<String, PluginValues>, defaults: &'a PluginValues) -> ManifestContext<'a> {
        ManifestContext::for_tests(stored, defaults)
    }

    fn values(settings: &[(&str, &str)], secrets: &[(&str, &str)]) -> PluginValues {
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        PluginValues { settings: map(settings), secrets: map(secrets), ..PluginValues::default() }
    }

    /// Parses `text` with `defaults` and nothing stored.
    fn parse(text: &str, defaults: &PluginValues) -> Result<Manifest, String> {
        Manifest::parse(text, &cx(&HashMap::new(), defaults)).map_err(|e| e.0)
    }

    #[test]
    fn a_minimal_manifest_gets_the_defaults() {
        let m = parse("name = \"echo\"\nversion = \"1.0.0\"\n", &PluginValues::default()).unwrap();
        assert_eq!(m.limits.timeout, Duration::from_secs(30));
        assert_eq!(m.limits.memory_bytes, defaults::MEMORY_BYTES);
        assert_eq!(m.limits.max_concurrent_calls, defaults::MAX_CONCURRENT_CALLS);
        assert!(m.sha256.is_none() && m.config.is_empty() && m.egress.rules().is_empty());
    }

    #[test]
    fn a_full_manifest_is_interpolated() {
        let defaults = values(&[("MAPPER_API_URL", "http://localhost:8001")], &[("KEY", "s3cret")]);
        let text = r#"
            name = "mapper"
            version = "1.2.0"
            sha256 = "AB00000000000000000000000000000000000000000000000000000000000000"
            [limits]
            timeout_seconds = 2.5
            fuel = 1000000
            memory_bytes = 16777216
            [config]
            base_url = "${setting:MAPPER_API_URL}/v1"
            price = "$$5"
            [[egress]]
            origin = "${setting:MAPPER_API_URL}"
            forward_user_auth = true
            headers = { X-Api-Key = "Key ${secret:KEY}" }
        "#;
        let m = parse(text, &defaults).unwrap();
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
    fn a_plugins_stored_values_win_over_the_defaults_and_stay_its_own() {
        let defaults = values(&[("URL", "http://default.test")], &[("KEY", "default-key")]);
        let stored = HashMap::from([(
            "weather".to_string(),
            values(&[("URL", "https://api.weather.test")], &[("KEY", "weather-key")]),
        )]);
        let text = |name: &str| {
            format!(
                "name = \"{name}\"\nversion = \"1\"\n[config]\nurl = \"${{setting:URL}}\"\n[[egress]]\norigin = \"${{setting:URL}}\"\nheaders = {{ X-Key = \"${{secret:KEY}}\" }}\n"
            )
        };
        let weather = Manifest::parse(&text("weather"), &cx(&stored, &defaults)).unwrap();
        assert_eq!(weather.config["url"], "https://api.weather.test");
        assert_eq!(weather.egress.rules()[0].headers[0].1, "weather-key");
        let other = Manifest::parse(&text("other"), &cx(&stored, &defaults)).unwrap();
        assert_eq!(other.config["url"], "http://default.test", "another plugin's values are not this one's");
        assert_eq!(other.egress.rules()[0].headers[0].1, "default-key");
    }

    #[test]
    fn secrets_only_in_egress_headers_of_exact_origins() {
        let defaults = values(&[("URL", "https://api.example.com")], &[("KEY", "sk-secret-value")]);
        let refused = |place: &str, text: &str| {
            let err = parse(text, &defaults).unwrap_err();
            assert!(err.contains(place), "{err}");
            assert!(
                err.contains(
                    "${secret:KEY} is refused by policy rule \"secrets only in egress headers of exact origins\""
                ),
                "{err}"
            );
            assert!(!err.contains("sk-secret-value"), "{err}");
        };
        refused("config.key:", "name = \"a\"\nversion = \"1\"\n[config]\nkey = \"${secret:KEY}\"\n");
        refused(
            "egress[0].origin:",
            "name = \"a\"\nversion = \"1\"\n[[egress]]\norigin = \"https://${secret:KEY}.example.com\"\n",
        );
        refused(
            "egress[0].headers.X-Key:",
            "name = \"a\"\nversion = \"1\"\n[[egress]]\norigin = \"https://*.example.com\"\nheaders = { X-Key = \"${secret:KEY}\" }\n",
        );
        // A setting may go anywhere, a wildcard's header included.
        let ok = "name = \"a\"\nversion = \"1\"\n[config]\nurl = \"${setting:URL}\"\n[[egress]]\norigin = \"https://*.example.com\"\nheaders = { X-Region = \"${setting:URL}\" }\n";
        assert!(parse(ok, &defaults).is_ok());
    }

    #[test]
    fn the_bare_variable_form_is_gone() {
        let defaults = values(&[("MAPPER_API_URL", "http://m")], &[("OPENAI_API_KEY", "sk")]);
        let err = parse("name = \"a\"\nversion = \"1\"\n[config]\nk = \"${OPENAI_API_KEY}\"\n", &defaults).unwrap_err();
        assert!(err.contains("config.k: ${OPENAI_API_KEY} names no setting or secret"), "{err}");
        assert!(!err.contains("sk\""), "{err}");
        let err =
            parse("name = \"a\"\nversion = \"1\"\n[config]\nk = \"${env:MAPPER_API_URL}\"\n", &defaults).unwrap_err();
        assert!(err.contains("names no setting or secret"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let none = PluginValues::default();
        for text in [
            "name = \"a\"\nversion = \"1\"\nextra = 1\n",
            "name = \"a\"\nversion = \"1\"\n[limits]\ntimeout = 3\n",
            "name = \"a\"\nversion = \"1\"\n[[egress]]\norigin = \"http://x\"\nforward_auth = true\n",
        ] {
            let err = parse(text, &none).unwrap_err();
            assert!(err.contains("unknown field"), "{err}");
        }
    }

    #[test]
    fn missing_values_are_named_and_values_never_shown() {
        let defaults = values(&[], &[("PRESENT", "secret-value")]);
        let text = r#"
            name = "a"
            version = "1"
            [config]
            url = "${setting:ABSENT_URL}"
            [[egress]]
            origin = "http://h"
            headers = { Authorization = "Bearer ${secret:ABSENT_KEY} ${secret:PRESENT}" }
        "#;
        let err = parse(text, &defaults).unwrap_err();
        assert!(err.contains("config.url: setting ABSENT_URL is not set"), "{err}");
        assert!(err.contains("egress[0].headers.Authorization: secret ABSENT_KEY is not set"), "{err}");
        assert!(!err.contains("secret-value"));
    }

    #[test]
    fn fallbacks_apply_only_when_unset() {
        let defaults = values(&[("SET", "a")], &[]);
        let lookup = ValueLookup { stored: None, defaults: &defaults };
        assert_eq!(interpolate("${setting:SET:-b}/${setting:UNSET:-c}", &lookup, None).unwrap(), "a/c");
        assert_eq!(interpolate("Bearer ${secret:UNSET:-}", &lookup, Some("https://a.example")).unwrap(), "Bearer ");
        assert!(interpolate("${", &lookup, None).is_err());
        assert!(interpolate("${setting:BAD NAME}", &lookup, None).is_err());
    }

    #[test]
    fn limits_out_of_range_are_errors() {
        let text = "name = \"a\"\nversion = \"1\"\n[limits]\ntimeout_seconds = 0\nmemory_bytes = 4294967296\nmax_concurrent_calls = 0\n";
        let err = parse(text, &PluginValues::default()).unwrap_err();
        assert!(err.contains("limits.timeout_seconds") && err.contains("limits.memory_bytes"), "{err}");
        assert!(err.contains("limits.max_concurrent_calls"), "{err}");
    }

    #[test]
    fn requests_in_flight_default_to_eight_and_never_exceed_the_hosts_maximum() {
        let parse =
            |extra: &str| parse(&format!("name = \"a\"\nversion = \"1\"\n[limits]\n{extra}"), &PluginValues::default());
        assert_eq!(parse("").unwrap().limits.max_requests_in_flight, defaults::MAX_REQUESTS_IN_FLIGHT);
        assert_eq!(parse("max_requests_in_flight = 16\n").unwrap().limits.max_requests_in_flight, 16);
        let err = parse("max_requests_in_flight = 17\n").unwrap_err();
        assert!(err.contains("limits.max_requests_in_flight: 17 is not in [1, 16]"), "{err}");
    }

    #[test]
    fn a_host_secret_goes_to_its_own_origin_only() {
        let mut defaults = values(&[], &[("OPENAI_API_KEY", "sk-host")]);
        defaults.secret_origins.insert("OPENAI_API_KEY".into(), "https://api.openai.com".into());
        let manifest = |origin: &str| {
            format!(
                "name = \"a\"\nversion = \"1\"\n[[egress]]\norigin = \"{origin}\"\nheaders = {{ Authorization = \"Bearer ${{secret:OPENAI_API_KEY}}\" }}\n"
            )
        };
        let own = parse(&manifest("https://api.openai.com:443"), &defaults).unwrap();
        assert_eq!(own.egress.rules().len(), 1);
        let err = parse(&manifest("https://collector.example"), &defaults).unwrap_err();
        assert!(err.contains(HOST_SECRETS_RULE) && !err.contains("sk-host"), "{err}");
        // A value the operator stored for the plugin is the operator's grant: no bound.
        let stored = HashMap::from([("a".to_string(), values(&[], &[("OPENAI_API_KEY", "sk-plugin")]))]);
        assert!(Manifest::parse(&manifest("https://collector.example"), &cx(&stored, &defaults)).is_ok());
    }

    #[test]
    fn names_and_pins_are_checked() {
        let err =
            parse("name = \"Bad Name\"\nversion = \"1\"\nsha256 = \"xyz\"\n", &PluginValues::default()).unwrap_err();
        assert!(err.contains("name:") && err.contains("sha256:"), "{err}");
    }

    #[test]
    fn state_limits_may_be_lowered_never_raised() {
        let m = parse("name = \"a\"\nversion = \"1\"\n", &PluginValues::default()).unwrap();
        assert_eq!((m.limits.state_max_keys, m.limits.state_max_bytes), (1000, 8 << 20), "the host's limits");
        let lower = "name = \"a\"\nversion = \"1\"\n[limits]\nstate_max_keys = 10\nstate_max_bytes = 4096\n";
        let m = parse(lower, &PluginValues::default()).unwrap();
        assert_eq!((m.limits.state_max_keys, m.limits.state_max_bytes), (10, 4096));
        let higher = "name = \"a\"\nversion = \"1\"\n[limits]\nstate_max_keys = 1001\nstate_max_bytes = 8388609\n";
        let err = parse(higher, &PluginValues::default()).unwrap_err();
        assert!(
            err.contains("limits.state_max_keys: 1001") && err.contains("limits.state_max_bytes: 8388609"),
            "{err}"
        );
    }

    #[test]
    fn declared_error_codes_are_checked() {
        let m =
            parse("name = \"a\"\nversion = \"1\"\nerror_codes = [\"quota_full\"]\n", &PluginValues::default()).unwrap();
        assert_eq!(m.error_codes, ["quota_full"]);
        let err =
            parse("name = \"a\"\nversion = \"1\"\nerror_codes = [\"Bad-Code\", \"\"]\n", &PluginValues::default())
                .unwrap_err();
        assert!(err.contains("error_codes: \"Bad-Code\"") && err.contains("error_codes: \"\""), "{err}");
        let many: Vec<String> = (0..33).map(|i| format!("\"c{i}\"")).collect();
        let text = format!("name = \"a\"\nversion = \"1\"\nerror_codes = [{}]\n", many.join(", "));
        assert!(parse(&text, &PluginValues::default()).unwrap_err().contains("at most 32"));
    }
}
