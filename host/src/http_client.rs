//! The service's own HTTPS clients (Anthropic, Helicone, Clerk's JWKS, OpenAI) are all built here,
//! so that every one trusts the same roots: the built-in Mozilla roots plus the PEM certificates of
//! `EXTRA_CA_CERTS_FILE` (a private proxy's CA, or the test stand-ins'). Each offers HTTP/2 and
//! HTTP/1.1 by ALPN and speaks whichever the server picks.

use std::time::Duration;

use anyhow::Context;

use crate::config::UpstreamConfig;

/// Builds HTTP clients with the service's settings; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct HttpClients {
    extra_roots: Vec<reqwest::Certificate>,
}

impl HttpClients {
    /// Reads `EXTRA_CA_CERTS_FILE` when set: a file that cannot be read or holds no certificate is
    /// an error naming the variable, so a typo fails the start instead of every upstream call.
    pub fn load(config: &UpstreamConfig) -> anyhow::Result<HttpClients> {
        let Some(path) = &config.extra_ca_certs_file else {
            return Ok(HttpClients::default());
        };
        let pem = std::fs::read(path).with_context(|| format!("EXTRA_CA_CERTS_FILE: reading {}", path.display()))?;
        let extra_roots = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("EXTRA_CA_CERTS_FILE: {} is not a PEM certificate bundle", path.display()))?;
        anyhow::ensure!(!extra_roots.is_empty(), "EXTRA_CA_CERTS_FILE: {} holds no PEM certificate", path.display());
        let clients = HttpClients { extra_roots };
        // Certificates are parsed only when a client is built: check them now.
        clients
            .build()
            .with_context(|| format!("EXTRA_CA_CERTS_FILE: {} holds an unusable certificate", path.display()))?;
        Ok(clients)
    }

    /// A new client with its own connection pool.
    pub fn build(&self) -> anyhow::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("amakaflow-chat/", env!("CARGO_PKG_VERSION")));
        for root in &self.extra_roots {
            builder = builder.add_root_certificate(root.clone());
        }
        builder.build().context("building the HTTP client")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(file: Option<&std::path::Path>) -> UpstreamConfig {
        UpstreamConfig { extra_ca_certs_file: file.map(Into::into), anthropic_streams_per_connection: 100 }
    }

    #[test]
    fn no_file_means_the_built_in_roots_only() {
        let clients = HttpClients::load(&config(None)).expect("loads");
        assert!(clients.extra_roots.is_empty());
        clients.build().expect("builds");
    }

    #[test]
    fn a_missing_or_empty_or_garbled_file_is_an_error_naming_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let garbled = dir.path().join("garbled.pem");
        std::fs::write(&garbled, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
            .unwrap();
        for file in [missing, empty, garbled] {
            let err = HttpClients::load(&config(Some(&file))).expect_err("refused");
            let text = format!("{err:#}");
            assert!(text.contains("EXTRA_CA_CERTS_FILE"), "{text}");
        }
    }
}
