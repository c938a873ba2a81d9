//! The host's side of outgoing connections, shared by every call: name resolution (with the
//! configured overrides, like curl's `--resolve`) and the TLS client configuration (webpki roots);
//! or, for `plugins test`, the [`Replay`] that answers allowed requests from a script instead.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::in_flight::InFlightCount;
use super::replay::Replay;
use super::trace_context::TraceContextHook;

/// Resolver and TLS settings for plugin egress.
pub struct Network {
    overrides: HashMap<String, Vec<IpAddr>>,
    pub tls: Arc<rustls::ClientConfig>,
    /// The requests of every call not yet entirely gone.
    pub in_flight: InFlightCount,
    /// Answers requests that passed the policy from a test script instead of the network.
    pub replay: Option<Arc<Replay>>,
    /// Sets the host's `traceparent` on every request (OpenTelemetry export on).
    pub trace_context: Option<TraceContextHook>,
}

impl Network {
    pub fn new(overrides: &HashMap<String, Vec<IpAddr>>) -> Network {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Network {
            overrides: overrides.iter().map(|(name, ips)| (name.to_ascii_lowercase(), ips.clone())).collect(),
            tls: Arc::new(tls),
            in_flight: InFlightCount::default(),
            replay: None,
            trace_context: None,
        }
    }

    /// No network: every allowed request is answered by `replay` (`plugins test`).
    pub fn replaying(overrides: &HashMap<String, Vec<IpAddr>>, replay: Arc<Replay>) -> Network {
        Network { replay: Some(replay), ..Network::new(overrides) }
    }

    /// With the host's `traceparent` hook (OpenTelemetry export on).
    pub fn with_trace_context(self, trace_context: Option<TraceContextHook>) -> Network {
        Network { trace_context, ..self }
    }

    /// The configured addresses of `host` (lower case), if any.
    pub fn override_for(&self, host: &str) -> Option<&[IpAddr]> {
        self.overrides.get(host).map(Vec::as_slice)
    }

    /// The addresses of `host` (lower case, no brackets) on `port`.
    pub async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        if let Some(ips) = self.overrides.get(host) {
            return Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{host} has no addresses")));
        }
        Ok(addrs)
    }
}
