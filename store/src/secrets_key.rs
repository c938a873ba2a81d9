//! The key plugin secrets are encrypted under at rest (`PLUGIN_SECRETS_KEY`), and the sealing
//! itself: ChaCha20-Poly1305 (an AEAD), a fresh random 96-bit nonce per value, and the plugin and
//! secret name as associated data, so a ciphertext copied to another row (another plugin, another
//! name) fails to open instead of handing its value to the wrong plugin. The database never holds
//! a secret in the clear, and a value opened under another key fails loudly, never as garbage.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// Bytes of a key.
pub const KEY_BYTES: usize = 32;
/// Bytes of a nonce.
pub const NONCE_BYTES: usize = 12;

/// A 32-byte key; formatting never shows it.
#[derive(Clone)]
pub struct SecretsKey([u8; KEY_BYTES]);

/// A sealed value: what the database holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
}

/// A value that does not open under this key (another key sealed it, or the row was altered).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot be decrypted with this PLUGIN_SECRETS_KEY (sealed under another key, or altered)")]
pub struct OpenError;

impl SecretsKey {
    /// Parses 32 bytes in standard base64 (`openssl rand -base64 32`). The error never shows the text.
    pub fn from_base64(text: &str) -> Result<SecretsKey, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "not base64 (expected 32 random bytes in base64: openssl rand -base64 32)".to_string())?;
        let key: [u8; KEY_BYTES] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("{} bytes, expected {KEY_BYTES}", b.len()))?;
        Ok(SecretsKey(key))
    }

    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> SecretsKey {
        SecretsKey(bytes)
    }

    /// Encrypts `value` of secret `name` of plugin `plugin` under a fresh random nonce.
    pub fn seal(&self, plugin: &str, name: &str, value: &str) -> Sealed {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let aad = associated_data(plugin, name);
        let ciphertext = self
            .cipher()
            .encrypt(&Nonce::from(nonce), Payload { msg: value.as_bytes(), aad: &aad })
            .expect("ChaCha20-Poly1305 encrypts any value that fits in memory");
        Sealed { ciphertext, nonce: nonce.to_vec() }
    }

    /// Decrypts a value sealed by [`SecretsKey::seal`] for the same plugin and name.
    pub fn open(&self, plugin: &str, name: &str, sealed: &Sealed) -> Result<String, OpenError> {
        let nonce: [u8; NONCE_BYTES] = sealed.nonce.as_slice().try_into().map_err(|_| OpenError)?;
        let aad = associated_data(plugin, name);
        let plain = self
            .cipher()
            .decrypt(&Nonce::from(nonce), Payload { msg: &sealed.ciphertext, aad: &aad })
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&Key::from(self.0))
    }
}

/// Plugin and secret name, unambiguously joined (plugin names never hold a NUL).
fn associated_data(plugin: &str, name: &str) -> Vec<u8> {
    [plugin.as_bytes(), b"\0", name.as_bytes()].concat()
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretsKey {
        SecretsKey::from_bytes([byte; KEY_BYTES])
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_plugin_and_name_under_its_key() {
        let sealed = key(1).seal("weather", "API_KEY", "s3cret-value");
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"s3cret"), "the ciphertext is not the value");
        assert_eq!(key(1).open("weather", "API_KEY", &sealed).unwrap(), "s3cret-value");
        assert_eq!(key(2).open("weather", "API_KEY", &sealed), Err(OpenError));
        assert_eq!(key(1).open("other", "API_KEY", &sealed), Err(OpenError));
        assert_eq!(key(1).open("weather", "OTHER", &sealed), Err(OpenError));
    }

    #[test]
    fn every_seal_uses_a_new_nonce() {
        let (a, b) = (key(1).seal("p", "n", "v"), key(1).seal("p", "n", "v"));
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn keys_are_32_bytes_of_base64_and_never_shown() {
        let text = base64::engine::general_purpose::STANDARD.encode([7u8; KEY_BYTES]);
        let parsed = SecretsKey::from_base64(&text).unwrap();
        assert!(!format!("{parsed:?}").contains(&text));
        assert!(SecretsKey::from_base64("c2hvcnQ=").unwrap_err().contains("5 bytes, expected 32"));
        assert!(SecretsKey::from_base64("not base64!").is_err());
    }
}
