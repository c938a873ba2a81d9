//! TLS for a stand-in, served the way the real upstreams serve it: a certificate generated at run
//! time for `127.0.0.1` and `localhost`, signed by a throwaway test CA, with ALPN offering `h2` and
//! `http/1.1` (Anthropic's API negotiates HTTP/2 this way) or `http/1.1` only (an older server).
//! The service trusts the test CA through `EXTRA_CA_CERTS_FILE`, the setting an operator uses for a
//! private proxy: there is no "accept invalid certificates" switch anywhere.

use std::io::Write;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// The application protocols a TLS stand-in offers in its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alpn {
    /// `h2` preferred, `http/1.1` for clients without HTTP/2 (what Anthropic offers).
    H2AndHttp1,
    /// `http/1.1` only: a server without HTTP/2.
    Http1Only,
}

/// A test certificate authority: its PEM and a file holding it (removed when dropped), for the
/// client's `EXTRA_CA_CERTS_FILE`.
pub struct TestCa {
    pem: String,
    file: tempfile::NamedTempFile,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").field("file", &self.file.path()).finish_non_exhaustive()
    }
}

impl TestCa {
    /// The CA certificate, PEM-encoded.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A file holding [`TestCa::pem`].
    pub fn file(&self) -> &std::path::Path {
        self.file.path()
    }
}

/// A fresh CA, a server certificate it signed, and an acceptor serving that certificate with `alpn`.
pub(crate) fn acceptor(alpn: Alpn) -> (TlsAcceptor, TestCa) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.distinguished_name.push(DnType::CommonName, "amakaflow-chat stand-in test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("a CA key")).expect("the CA");

    let server_key = KeyPair::generate().expect("a server key");
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("server parameters");
    params.distinguished_name.push(DnType::CommonName, "stand-in");
    let server_cert = params.signed_by(&server_key, &ca).expect("the server certificate");

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![server_cert.der().clone(), ca.der().clone()], key)
        .expect("the server certificate and key");
    config.alpn_protocols = match alpn {
        Alpn::H2AndHttp1 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        Alpn::Http1Only => vec![b"http/1.1".to_vec()],
    };

    let pem = ca.pem();
    let mut file = tempfile::Builder::new().prefix("stand-in-ca-").suffix(".pem").tempfile().expect("a CA file");
    file.write_all(pem.as_bytes()).expect("writing the CA file");
    (TlsAcceptor::from(Arc::new(config)), TestCa { pem, file })
}
