//! The operator's policy over manifests: which origins a plugin may be granted, which of them may
//! receive users' credentials, and which may resolve to private or loopback addresses. It is
//! checked on the interpolated manifest at load; a manifest asking for more is refused with the
//! rule it broke. What a rule is granted here is also what its requests may reach at call time
//! ([`Reach`]), so the manifest's `private_network` flag counts only where the policy allows it.
//!
//! Some refusals hold whatever the policy says: users' credentials only to exact origins, and
//! never an origin that is literally a metadata, link-local, unspecified or reserved address.
//!
//! The operator's file (`PLUGIN_POLICY_FILE`, TOML):
//!
//! ```toml
//! public_https = false                # any https origin on a public address, without credentials
//!
//! [[grant]]
//! origin = "https://mapper.example.com"   # exact, or "https://*.example.com" for subdomains
//! plugins = ["mapper"]                # only these plugins (default: every plugin)
//! forward_user_auth = true            # may receive users' credentials (exact origins only)
//! private_network = true              # may resolve to private addresses (RFC 1918, fc00::/7)
//! loopback = false                    # may resolve to loopback addresses
//! ```

use serde::Deserialize;

use crate::egress::address::{self, AddressClass};
use crate::egress::{EgressRule, Host, Origin, Reach};
use crate::manifest::{Manifest, valid_plugin_name};

/// The names of the rules, as refusals quote them.
pub mod rules {
    pub const EXACT_CREDENTIALS: &str = "credentials only to exact origins";
    pub const NEVER_INTERNAL: &str = "never metadata, link-local, unspecified or reserved addresses";
    pub const GRANTED_ORIGINS: &str = "only origins the operator grants";
    pub const TRUSTED_CREDENTIALS: &str = "credentials only to origins the operator trusts with them";
    pub const PRIVATE_NETWORK: &str = "private networks only by operator allowance";
    pub const LOOPBACK: &str = "loopback only by operator allowance";
}

/// What the operator allows plugins to be granted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginPolicy {
    /// Any https origin whose host is a name or a public address may be granted, without
    /// credentials or internal addresses.
    pub public_https: bool,
    pub grants: Vec<Grant>,
}

/// One origin (or wildcard pattern) the operator grants, and with what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub origin: Origin,
    /// Only these plugins; `None`: every plugin.
    pub plugins: Option<Vec<String>>,
    pub forward_user_auth: bool,
    pub private_network: bool,
    pub loopback: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    public_https: bool,
    #[serde(default)]
    grant: Vec<RawGrant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    origin: String,
    plugins: Option<Vec<String>>,
    #[serde(default)]
    forward_user_auth: bool,
    #[serde(default)]
    private_network: bool,
    #[serde(default)]
    loopback: bool,
}

impl PluginPolicy {
    /// Parses the operator's policy file; every problem is named, one per `; `.
    pub fn parse(text: &str) -> Result<PluginPolicy, String> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut problems = Vec::new();
        let mut grants = Vec::new();
        for (i, raw) in raw.grant.into_iter().enumerate() {
            let at = format!("grant[{i}]");
            let origin = match Origin::parse(&raw.origin) {
                Ok(origin) => origin,
                Err(why) => {
                    problems.push(format!("{at}: {why}"));
                    continue;
                }
            };
            for name in raw.plugins.iter().flatten().filter(|name| !valid_plugin_name(name)) {
                problems.push(format!("{at}.plugins: {name:?} is not a plugin name"));
            }
            let grant = Grant {
                origin,
                plugins: raw.plugins,
                forward_user_auth: raw.forward_user_auth,
                private_network: raw.private_network,
                loopback: raw.loopback,
            };
            match grant.check() {
                Ok(()) => grants.push(grant),
                Err(why) => problems.push(format!("{at}: {why}")),
            }
        }
        if problems.is_empty() {
            Ok(PluginPolicy { public_https: raw.public_https, grants })
        } else {
            Err(problems.join("; "))
        }
    }

    /// The policy without an operator's file, from the host's configured URLs (paths ignored):
    /// `services` may receive users' credentials, and both they and `others` may resolve to private
    /// addresses, and to loopback when `loopback` (development and tests); any other public https
    /// origin may be granted without either. A URL that is no usable origin is skipped.
    pub fn configured<'a>(
        services: impl IntoIterator<Item = &'a str>,
        others: impl IntoIterator<Item = &'a str>,
        loopback: bool,
    ) -> PluginPolicy {
        let grant = |url: &str, forward_user_auth: bool| {
            let origin = Origin::parse(origin_of(url)).ok()?;
            let grant = Grant { origin, plugins: None, forward_user_auth, private_network: true, loopback };
            grant.check().is_ok().then_some(grant)
        };
        let services = services.into_iter().filter_map(|url| grant(url, true));
        let others = others.into_iter().filter_map(|url| grant(url, false));
        PluginPolicy { public_https: true, grants: services.chain(others).collect() }
    }

    /// Checks every `[[egress]]` rule of `manifest` and sets what each may reach; the error names
    /// every refused rule and the policy rule it broke.
    pub fn apply(&self, manifest: &mut Manifest) -> Result<(), String> {
        let plugin = manifest.name.clone();
        let mut problems = Vec::new();
        for (i, rule) in manifest.egress.rules_mut().iter_mut().enumerate() {
            match self.reach(&plugin, rule) {
                Ok(reach) => rule.reach = reach,
                Err(refusals) => problems.extend(refusals.into_iter().map(|why| format!("egress[{i}]: {why}"))),
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }

    /// What `rule` of `plugin` may reach, or why it is refused.
    fn reach(&self, plugin: &str, rule: &EgressRule) -> Result<Reach, Vec<String>> {
        let origin = &rule.origin;
        if let Some(never) = never_reachable(origin) {
            return Err(vec![never]);
        }
        let literal = match &origin.host {
            Host::Ip(ip) => address::classify(*ip),
            _ => None,
        };

        let grants: Vec<&Grant> = self.grants.iter().filter(|g| g.applies_to(plugin) && g.covers(origin)).collect();
        let public = self.public_https && origin.https && literal.is_none();
        if grants.is_empty() && !public {
            return Err(vec![refused(format!("origin {origin}"), rules::GRANTED_ORIGINS)]);
        }

        let mut problems = Vec::new();
        if rule.forward_user_auth {
            if let Some(wildcard) = credentials_to_wildcard(origin) {
                problems.push(wildcard);
            } else if !grants.iter().any(|g| g.forward_user_auth) {
                problems.push(refused(format!("forward_user_auth to {origin}"), rules::TRUSTED_CREDENTIALS));
            }
        }
        let private = grants.iter().any(|g| g.private_network);
        let loopback = grants.iter().any(|g| g.loopback);
        if (rule.private_network || literal == Some(AddressClass::Private)) && !private {
            problems.push(refused(format!("private_network for {origin}"), rules::PRIVATE_NETWORK));
        }
        let names_loopback =
            literal == Some(AddressClass::Loopback) || matches!(&origin.host, Host::Name(name) if name == "localhost");
        if names_loopback && !loopback {
            problems.push(refused(format!("the loopback origin {origin}"), rules::LOOPBACK));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        // The manifest's flag asks for private addresses; an origin naming one asks by itself.
        Ok(Reach { private: private && (rule.private_network || literal == Some(AddressClass::Private)), loopback })
    }
}

impl Grant {
    /// What no grant may say, whatever the operator wrote.
    fn check(&self) -> Result<(), String> {
        let credentials = self.forward_user_auth.then(|| credentials_to_wildcard(&self.origin)).flatten();
        match never_reachable(&self.origin).or(credentials) {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }

    fn applies_to(&self, plugin: &str) -> bool {
        self.plugins.as_ref().is_none_or(|names| names.iter().any(|n| n == plugin))
    }

    /// Whether every host `origin` can name is within this grant.
    fn covers(&self, origin: &Origin) -> bool {
        if self.origin.https != origin.https || self.origin.port != origin.port {
            return false;
        }
        match (&self.origin.host, &origin.host) {
            // `*.a.com` covers `b.a.com`, `*.b.a.com` and `*.a.com`, never `a.com` itself.
            (Host::Wildcard(suffix), Host::Name(name) | Host::Wildcard(name)) => {
                let below = name.len() > suffix.len() + 1 && name.ends_with(&format!(".{suffix}"));
                below || (matches!(origin.host, Host::Wildcard(_)) && name == suffix)
            }
            (granted, asked) => granted == asked,
        }
    }
}

/// `what` is refused by policy rule `rule`: the form every refusal takes.
fn refused(what: impl std::fmt::Display, rule: &str) -> String {
    format!("{what} is refused by policy rule \"{rule}\"")
}

/// The refusal of an origin that is literally an address no rule may ever reach.
fn never_reachable(origin: &Origin) -> Option<String> {
    let Host::Ip(ip) = origin.host else { return None };
    match address::classify(ip)? {
        class @ (AddressClass::Metadata | AddressClass::LinkLocal | AddressClass::Special) => {
            Some(refused(format!("{origin} ({})", class.describe()), rules::NEVER_INTERNAL))
        }
        AddressClass::Private | AddressClass::Loopback => None,
    }
}

/// The refusal of users' credentials to `origin` when it is a wildcard.
fn credentials_to_wildcard(origin: &Origin) -> Option<String> {
    matches!(origin.host, Host::Wildcard(_))
        .then(|| refused("forward_user_auth to a wildcard origin", rules::EXACT_CREDENTIALS))
}

/// `scheme://authority` of a URL (its path, query and fragment dropped).
fn origin_of(url: &str) -> &str {
    let start = url.find("://").map_or(0, |at| at + 3);
    let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |at| start + at);
    &url[..end]
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::manifest::ManifestContext;

    fn manifest(name: &str, egress: &str) -> Manifest {
        let (stored, defaults) = (HashMap::new(), crate::PluginValues::default());
        let cx = ManifestContext::for_tests(&stored, &defaults);
        Manifest::parse(&format!("name = \"{name}\"\nversion = \"1\"\n[[egress]]\n{egress}\n"), &cx).unwrap()
    }

    fn refusal(policy: &PluginPolicy, egress: &str) -> String {
        policy.apply(&mut manifest("p", egress)).unwrap_err()
    }

    fn reach(policy: &PluginPolicy, egress: &str) -> Reach {
        let mut m = manifest("p", egress);
        policy.apply(&mut m).unwrap();
        m.egress.rules()[0].reach
    }

    fn default_policy() -> PluginPolicy {
        PluginPolicy::configured(
            ["http://localhost:8001", "https://mapper.example.com/api/"],
            ["http://127.0.0.1:9"],
            true,
        )
    }

    #[test]
    fn credentials_go_to_exact_trusted_origins_only() {
        let policy = default_policy();
        let err = refusal(&policy, "origin = \"https://*.onrender.com\"\nforward_user_auth = true");
        assert_eq!(
            err,
            "egress[0]: forward_user_auth to a wildcard origin is refused by policy rule \"credentials only to exact origins\""
        );
        let err = refusal(&policy, "origin = \"https://evil.example.net\"\nforward_user_auth = true");
        assert!(err.contains("forward_user_auth to https://evil.example.net:443"), "{err}");
        assert!(err.contains(rules::TRUSTED_CREDENTIALS), "{err}");
        // A configured service, on a developer's machine: loopback too.
        assert_eq!(
            reach(&policy, "origin = \"https://mapper.example.com\"\nforward_user_auth = true"),
            Reach { private: false, loopback: true }
        );
        // Any public https origin, without credentials.
        assert_eq!(reach(&policy, "origin = \"https://api.example.org\""), Reach::NONE);
        assert_eq!(reach(&policy, "origin = \"https://*.example.org\""), Reach::NONE);
    }

    #[test]
    fn metadata_and_unspecified_literals_are_never_granted() {
        let open = PluginPolicy::parse("public_https = true\n[[grant]]\norigin = \"http://10.0.0.1\"\n").unwrap();
        for origin in ["http://169.254.169.254", "https://[fd00:ec2::254]", "http://0.0.0.0:8001", "http://[::]:8001"] {
            let err = refusal(&open, &format!("origin = \"{origin}\""));
            assert!(err.contains(rules::NEVER_INTERNAL), "{origin}: {err}");
        }
        let err = PluginPolicy::parse("[[grant]]\norigin = \"http://169.254.169.254\"\nloopback = true\n").unwrap_err();
        assert!(err.starts_with("grant[0]: ") && err.contains(rules::NEVER_INTERNAL), "{err}");
    }

    #[test]
    fn internal_addresses_need_an_allowance() {
        let policy = default_policy();
        // A literal no longer opts in to its class.
        let err = refusal(&policy, "origin = \"http://127.0.0.1:8001\"");
        assert!(err.contains(rules::GRANTED_ORIGINS), "{err}");
        let err = refusal(&policy, "origin = \"https://localhost\"");
        assert!(err.contains(rules::LOOPBACK), "{err}");
        let err = refusal(&policy, "origin = \"https://api.example.org\"\nprivate_network = true");
        assert!(err.contains(rules::PRIVATE_NETWORK), "{err}");

        assert_eq!(
            reach(&policy, "origin = \"http://localhost:8001\"\nprivate_network = true"),
            Reach { private: true, loopback: true }
        );
        assert_eq!(reach(&policy, "origin = \"http://localhost:8001\""), Reach { private: false, loopback: true });
        let err = refusal(&policy, "origin = \"http://127.0.0.1:9\"\nforward_user_auth = true");
        assert!(err.contains(rules::TRUSTED_CREDENTIALS), "{err}");
        assert_eq!(reach(&policy, "origin = \"http://127.0.0.1:9\""), Reach { private: false, loopback: true });
        let deployed = PluginPolicy::configured(["http://localhost:8001"], [], false);
        let err = refusal(&deployed, "origin = \"http://localhost:8001\"");
        assert!(err.contains(rules::LOOPBACK), "{err}");
    }

    #[test]
    fn grants_may_be_per_plugin_and_by_pattern() {
        let policy = PluginPolicy::parse(
            r#"
            [[grant]]
            origin = "https://*.internal.example.com"
            private_network = true
            [[grant]]
            origin = "https://billing.internal.example.com"
            plugins = ["billing"]
            forward_user_auth = true
            "#,
        )
        .unwrap();
        let mut billing =
            manifest("billing", "origin = \"https://billing.internal.example.com\"\nforward_user_auth = true");
        policy.apply(&mut billing).unwrap();
        let mut other =
            manifest("other", "origin = \"https://billing.internal.example.com\"\nforward_user_auth = true");
        assert!(policy.apply(&mut other).unwrap_err().contains(rules::TRUSTED_CREDENTIALS));
        assert_eq!(
            reach(&policy, "origin = \"https://*.a.internal.example.com\"\nprivate_network = true"),
            Reach { private: true, loopback: false }
        );
        // Not public_https: anything else is refused.
        assert!(refusal(&policy, "origin = \"https://internal.example.com\"").contains(rules::GRANTED_ORIGINS));
        assert!(refusal(&policy, "origin = \"https://api.example.org\"").contains(rules::GRANTED_ORIGINS));
    }

    #[test]
    fn policy_files_are_checked() {
        let err = PluginPolicy::parse(
            "[[grant]]\norigin = \"https://*.onrender.com\"\nforward_user_auth = true\n[[grant]]\norigin = \"x\"\nplugins = [\"Bad\"]\n",
        )
        .unwrap_err();
        assert!(err.contains("grant[0]: forward_user_auth to a wildcard origin"), "{err}");
        assert!(err.contains("grant[1]: origin \"x\""), "{err}");
        assert!(PluginPolicy::parse("[[grant]]\norigin = \"https://a.com\"\nforward = true\n").is_err());
        assert!(PluginPolicy::parse("").unwrap().grants.is_empty());
    }
}
