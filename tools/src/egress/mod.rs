//! The egress policy: where a plugin's outgoing HTTP requests may go, and what the host adds to
//! them. Rules come from the manifest's `[[egress]]` entries; [`hooks::EgressHooks`] applies them
//! to every request the guest sends through `wasi:http` and [`send`] performs the request itself
//! (resolving the name, re-checking the addresses, dialling a validated address, capping time and
//! size). Anything refused is recorded as a [`Violation`], which decides the call's outcome.

pub mod address;
pub mod hooks;
pub mod in_flight;
pub mod network;
pub mod replay;
pub mod send;
pub mod trace_context;
pub mod violation;

use std::net::IpAddr;

use http::{HeaderName, HeaderValue};

pub use hooks::EgressHooks;
pub use in_flight::RequestSlots;
pub use network::Network;
pub use trace_context::TraceContextHook;
pub use violation::{Violation, Violations};

use address::AddressClass;

/// The allowed origins of one plugin, in manifest order (the first matching rule applies).
#[derive(Clone, Debug, Default)]
pub struct EgressPolicy {
    rules: Vec<EgressRule>,
}

impl EgressPolicy {
    pub fn new(rules: Vec<EgressRule>) -> EgressPolicy {
        EgressPolicy { rules }
    }

    pub fn rules(&self) -> &[EgressRule] {
        &self.rules
    }

    /// For the operator's policy, which decides what each rule may reach.
    pub fn rules_mut(&mut self) -> &mut [EgressRule] {
        &mut self.rules
    }

    /// The rule allowing `scheme://host:port`, if any. `host` must be lower case, without brackets.
    pub fn find(&self, https: bool, host: &str, port: u16) -> Option<&EgressRule> {
        self.rules.iter().find(|rule| rule.origin.matches(https, host, port))
    }
}

/// One `[[egress]]` entry.
#[derive(Clone, Debug)]
pub struct EgressRule {
    pub origin: Origin,
    /// Add the caller's `Authorization` and `X-User-Id` (replacing any the guest set).
    pub forward_user_auth: bool,
    /// The manifest asks for names resolving to private-network addresses (honoured only as far
    /// as [`EgressRule::reach`] says).
    pub private_network: bool,
    /// Headers the host sets on every request to this origin (secrets); values are marked sensitive.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The non-public addresses the operator's policy lets this rule reach (none until the policy
    /// is applied at load).
    pub reach: Reach,
}

/// The non-public address classes a rule may reach. Link-local, metadata, unspecified and the
/// other reserved ranges are never reachable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    pub private: bool,
    pub loopback: bool,
}

impl Reach {
    pub const NONE: Reach = Reach { private: false, loopback: false };
}

/// Headers a manifest may not inject: they frame the request, and the host sets them itself.
const RESERVED_HEADERS: [&str; 8] =
    ["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"];

impl EgressRule {
    pub fn new(
        origin: &str,
        forward_user_auth: bool,
        private_network: bool,
        headers: Vec<(String, String)>,
    ) -> Result<EgressRule, String> {
        let origin = Origin::parse(origin)?;
        let mut parsed = Vec::new();
        for (name, value) in headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers: invalid header name {name:?}"))?;
            if RESERVED_HEADERS.contains(&header.as_str()) {
                return Err(format!("headers: {name} is set by the host and cannot be injected"));
            }
            // The value may be a secret: the error names the header only.
            let mut value =
                HeaderValue::from_str(&value).map_err(|_| format!("headers.{name}: invalid header value"))?;
            value.set_sensitive(true);
            parsed.push((header, value));
        }
        Ok(EgressRule { origin, forward_user_auth, private_network, headers: parsed, reach: Reach::NONE })
    }

    /// Whether a request under this rule may be sent to `ip`: public addresses always; private
    /// and loopback ones only as far as the policy's [`Reach`] allows (an address literal in the
    /// origin opts in to nothing by itself); every other class never.
    pub fn address_allowed(&self, ip: IpAddr) -> Result<(), AddressClass> {
        match address::classify(ip) {
            None => Ok(()),
            Some(AddressClass::Private) if self.reach.private => Ok(()),
            Some(AddressClass::Loopback) if self.reach.loopback => Ok(()),
            Some(class) => Err(class),
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// `scheme://host[:port]`, with the default port filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    pub host: Host,
    pub port: u16,
}

/// The host part of an origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An exact, lower-case name.
    Name(String),
    /// `*.suffix`: any name ending in `.suffix` (not `suffix` itself).
    Wildcard(String),
    /// An address literal.
    Ip(IpAddr),
}

impl Origin {
    /// Parses `http(s)://host[:port][/]`. Paths, queries, user info and bare wildcards are refused.
    pub fn parse(text: &str) -> Result<Origin, String> {
        let bad = |why: &str| format!("origin {text:?}: {why}");
        let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("expected scheme://host[:port]"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) || authority.is_empty() {
            return Err(bad("an origin has no path, query or user info"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| bad("invalid host or port"))?;
        let port = port.unwrap_or(if https { 443 } else { 80 });
        let host = host.to_ascii_lowercase();
        let host = if let Ok(ip) = host.parse::<IpAddr>() {
            Host::Ip(ip)
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if !valid_name(suffix) || !suffix.contains('.') {
                return Err(bad("a wildcard needs a domain with at least two labels, like *.example.com"));
            }
            Host::Wildcard(suffix.to_string())
        } else if valid_name(&host) {
            Host::Name(host)
        } else {
            return Err(bad("invalid host name"));
        };
        Ok(Origin { https, host, port })
    }

    fn matches(&self, https: bool, host: &str, port: u16) -> bool {
        if self.https != https || self.port != port {
            return false;
        }
        match &self.host {
            Host::Name(name) => name == host,
            Host::Wildcard(suffix) => {
                host.len() > suffix.len() + 1
                    && host.ends_with(suffix.as_str())
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
            }
            Host::Ip(ip) => host.parse::<IpAddr>().is_ok_and(|h| canonical(h) == canonical(*ip)),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        match &self.host {
            Host::Name(name) => write!(f, "{scheme}://{name}:{}", self.port),
            Host::Wildcard(suffix) => write!(f, "{scheme}://*.{suffix}:{}", self.port),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "{scheme}://[{ip}]:{}", self.port),
            Host::Ip(ip) => write!(f, "{scheme}://{ip}:{}", self.port),
        }
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` → (host without brackets, port).
pub fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((authority, None)),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origin: &str) -> EgressRule {
        EgressRule::new(origin, false, false, Vec::new()).unwrap()
    }

    #[test]
    fn origins_parse_with_default_ports() {
        let o = Origin::parse("https://API.Example.com/").unwrap();
        assert_eq!((o.https, o.host.clone(), o.port), (true, Host::Name("api.example.com".into()), 443));
        assert_eq!(Origin::parse("http://localhost:8001").unwrap().port, 8001);
        assert_eq!(Origin::parse("http://[::1]:9").unwrap().host, Host::Ip("::1".parse().unwrap()));
        for bad in
            ["ftp://x", "x.com", "http://x.com/path", "http://u@x.com", "http://*.com", "http://x.com:99999", "http://"]
        {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_needs_scheme_host_and_port() {
        let policy = EgressPolicy::new(vec![rule("https://api.example.com"), rule("http://127.0.0.1:8001")]);
        assert!(policy.find(true, "api.example.com", 443).is_some());
        assert!(policy.find(false, "api.example.com", 80).is_none());
        assert!(policy.find(true, "api.example.com", 8443).is_none());
        assert!(policy.find(true, "evil.api.example.com", 443).is_none());
        assert!(policy.find(false, "127.0.0.1", 8001).is_some());
        assert!(policy.find(false, "127.0.0.1", 8002).is_none());
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let policy = EgressPolicy::new(vec![rule("https://*.example.com")]);
        assert!(policy.find(true, "a.example.com", 443).is_some());
        assert!(policy.find(true, "a.b.example.com", 443).is_some());
        assert!(policy.find(true, "example.com", 443).is_none());
        assert!(policy.find(true, "badexample.com", 443).is_none());
    }

    #[test]
    fn internal_addresses_need_the_policy_reach() {
        let mut rule = rule("http://127.0.0.1:8001");
        assert!(rule.address_allowed("93.184.216.34".parse().unwrap()).is_ok());
        // A literal opts in to nothing by itself.
        assert_eq!(rule.address_allowed("127.0.0.1".parse().unwrap()), Err(AddressClass::Loopback));
        assert_eq!(rule.address_allowed("10.1.2.3".parse().unwrap()), Err(AddressClass::Private));

        rule.reach = Reach { private: true, loopback: true };
        assert!(rule.address_allowed("127.0.0.1".parse().unwrap()).is_ok());
        assert!(rule.address_allowed("::1".parse().unwrap()).is_ok());
        assert!(rule.address_allowed("10.1.2.3".parse().unwrap()).is_ok());
        for never in ["169.254.169.254", "fd00:ec2::254", "169.254.1.1", "0.0.0.0", "::", "100.100.100.200"] {
            assert!(rule.address_allowed(never.parse().unwrap()).is_err(), "{never}");
        }
    }

    #[test]
    fn injected_headers_are_checked_and_sensitive() {
        let rule = EgressRule::new(
            "https://api.openai.com",
            false,
            false,
            vec![("Authorization".into(), "Bearer sk-1".into())],
        )
        .unwrap();
        assert!(rule.headers[0].1.is_sensitive());
        assert!(!format!("{rule:?}").contains("sk-1"));
        assert!(EgressRule::new("https://a.com", false, false, vec![("Host".into(), "b.com".into())]).is_err());
        assert!(EgressRule::new("https://a.com", false, false, vec![("X-Key".into(), "a\nb".into())]).is_err());
    }
}
