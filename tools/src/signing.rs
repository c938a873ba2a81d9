//! Signed plugins (DESIGN §9): a plugin version carries a minisign signature (Ed25519, the format
//! of the `minisign` tool, file `plugin.sig` beside `plugin.toml` and `plugin.wasm`), and the
//! service holds the public keys it trusts (`PLUGIN_TRUSTED_KEYS`). The loader checks it on the very
//! bytes it compiles, whether they came from the directory, an upload or the database, so whoever
//! can write to the database or the directory but holds no trusted key cannot install code.
//!
//! The signed message is not a file but these exact bytes (ASCII, `\n` line ends, lowercase hex),
//! so one signature covers both files and nothing else:
//!
//! ```text
//! amakaflow-plugin-signature-v1\n
//! component-sha256:<sha256 of plugin.wasm>\n
//! manifest-sha256:<sha256 of plugin.toml, the text as stored, before interpolation>\n
//! ```
//!
//! minisign signs the BLAKE2b-512 hash of that message (its "prehashed" mode); legacy signatures are
//! refused. The trusted comment (signed too) names the plugin and version at signing time and is
//! shown as the signer with the key id (minisign's: 16 upper-case hex digits).

use std::io::Cursor;
use std::str::FromStr;

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};
use serde::Serialize;

/// The signature file of a plugin directory.
pub const SIGNATURE_FILE: &str = "plugin.sig";
/// The domain-separation line that starts every signed message (a signature made for anything
/// else with the same key never verifies as a plugin's).
pub const SIGNED_PREFIX: &str = "amakaflow-plugin-signature-v1\n";

/// The exact bytes a plugin signature signs.
pub fn signed_message(component_sha256: &str, manifest_sha256: &str) -> Vec<u8> {
    format!("{SIGNED_PREFIX}component-sha256:{component_sha256}\nmanifest-sha256:{manifest_sha256}\n").into_bytes()
}

/// What a plugin without a valid signature from a trusted key gets (`PLUGIN_SIGNATURES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignaturePolicy {
    /// Refused at load.
    Enforce,
    /// Loaded with a logged warning; the listing says `unsigned` or `untrusted`.
    Warn,
    /// Not checked at all (refused in production).
    Off,
}

impl SignaturePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SignaturePolicy::Enforce => "enforce",
            SignaturePolicy::Warn => "warn",
            SignaturePolicy::Off => "off",
        }
    }
}

impl FromStr for SignaturePolicy {
    type Err = ();

    fn from_str(s: &str) -> Result<SignaturePolicy, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "enforce" => Ok(SignaturePolicy::Enforce),
            "warn" => Ok(SignaturePolicy::Warn),
            "off" => Ok(SignaturePolicy::Off),
            _ => Err(()),
        }
    }
}

/// The public keys plugin signatures are checked against.
#[derive(Clone, Default)]
pub struct TrustedKeys(Vec<PublicKey>);

impl std::fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.ids()).finish()
    }
}

impl TrustedKeys {
    /// Parses minisign public keys: the base64 lines, separated by commas or new lines, as written
    /// in `PLUGIN_TRUSTED_KEYS` or in a `.pub` file (its `untrusted comment:` lines are skipped).
    pub fn parse(text: &str) -> Result<TrustedKeys, String> {
        let mut keys = Vec::new();
        for item in text.split([',', '\n']).map(str::trim) {
            if item.is_empty() || item.starts_with("untrusted comment:") {
                continue;
            }
            let key = PublicKey::from_base64(item)
                .map_err(|_| format!("{item:.12}… is not a minisign public key (the base64 line of a .pub file)"))?;
            keys.push(key);
        }
        Ok(TrustedKeys(keys))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key ids, as minisign prints them.
    pub fn ids(&self) -> Vec<String> {
        self.0.iter().map(|k| key_id(k.keynum())).collect()
    }
}

/// The signature policy and the keys it trusts.
#[derive(Clone, Debug)]
pub struct SignatureSettings {
    pub policy: SignaturePolicy,
    pub trusted_keys: TrustedKeys,
}

impl Default for SignatureSettings {
    /// `warn` with no key: a developer's default.
    fn default() -> SignatureSettings {
        SignatureSettings { policy: SignaturePolicy::Warn, trusted_keys: TrustedKeys::default() }
    }
}

/// What the signature of a loaded plugin version proved (the admin listing's `signature`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignatureStatus {
    /// Signed by a trusted key over exactly these files.
    Verified { key_id: String, trusted_comment: String },
    /// No signature (loaded under `warn`).
    Unsigned,
    /// A signature that does not verify with any trusted key (loaded under `warn`).
    Untrusted { key_id: Option<String>, reason: String },
    /// `PLUGIN_SIGNATURES=off`.
    NotChecked,
}

impl SignatureStatus {
    pub fn is_verified(&self) -> bool {
        matches!(self, SignatureStatus::Verified { .. })
    }

    /// Why a version that is not verified is refused under `enforce` (or warned about).
    fn refusal(&self) -> String {
        match self {
            SignatureStatus::Unsigned => format!("the plugin is unsigned (no {SIGNATURE_FILE})"),
            SignatureStatus::Untrusted { reason, .. } => reason.clone(),
            SignatureStatus::Verified { .. } | SignatureStatus::NotChecked => String::new(),
        }
    }
}

/// Checks `signature` over the files with the given hashes. `Err`: refused under `enforce`, the
/// reason for the operator (a `warn` policy logs it and loads).
pub fn check(
    settings: &SignatureSettings,
    plugin: &str,
    component_sha256: &str,
    manifest_sha256: &str,
    signature: Option<&str>,
) -> Result<SignatureStatus, String> {
    if settings.policy == SignaturePolicy::Off {
        return Ok(SignatureStatus::NotChecked);
    }
    let status = examine(&settings.trusted_keys, &signed_message(component_sha256, manifest_sha256), signature);
    if status.is_verified() {
        return Ok(status);
    }
    let reason = status.refusal();
    if settings.policy == SignaturePolicy::Enforce {
        return Err(format!("{reason}; PLUGIN_SIGNATURES=enforce loads only plugins signed by a trusted key"));
    }
    tracing::warn!(plugin, reason = %reason, "loading a plugin without a trusted signature (PLUGIN_SIGNATURES=warn)");
    Ok(status)
}

fn examine(keys: &TrustedKeys, message: &[u8], signature: Option<&str>) -> SignatureStatus {
    let Some(signature) = signature else { return SignatureStatus::Unsigned };
    let untrusted = |key_id: Option<String>, reason: String| SignatureStatus::Untrusted { key_id, reason };
    let Ok(signature) = SignatureBox::from_string(signature) else {
        return untrusted(None, format!("{SIGNATURE_FILE} is not a minisign signature"));
    };
    let id = key_id(signature.keynum());
    let Some(key) = keys.0.iter().find(|k| k.keynum() == signature.keynum()) else {
        return untrusted(Some(id.clone()), format!("signed by key {id}, which is not in PLUGIN_TRUSTED_KEYS"));
    };
    let verified =
        signature.is_prehashed() && minisign::verify(key, &signature, Cursor::new(message), true, false, false).is_ok();
    if !verified {
        return untrusted(
            Some(id.clone()),
            format!(
                "the signature by key {id} does not match these plugin.wasm and plugin.toml files (altered since signing?)"
            ),
        );
    }
    SignatureStatus::Verified { key_id: id, trusted_comment: signature.trusted_comment().unwrap_or_default() }
}

/// minisign's key id: the 8-byte key number as a little-endian integer in upper-case hex.
fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&keynum[..8]);
    format!("{:016X}", u64::from_le_bytes(bytes))
}

/// A new key pair, as the text of minisign's `.pub` and `.key` files, and its key id. The secret
/// key is not encrypted: it is meant for a build's secret store. [`sign`] also takes a
/// password-protected key (minisign's `-G` makes one) and then asks for the password on the terminal.
pub fn generate_key_pair() -> Result<(String, String, String), String> {
    let KeyPair { pk, sk } = KeyPair::generate_unencrypted_keypair().map_err(|e| e.to_string())?;
    let public = pk.to_box().map_err(|e| e.to_string())?.into_string();
    let secret = sk.to_box(Some("amakaflow plugin signing key")).map_err(|e| e.to_string())?.into_string();
    Ok((public, secret, key_id(pk.keynum())))
}

/// Signs the files with the given hashes with the secret key in `secret_key_text` (minisign's
/// `.key` format). Returns the text of `plugin.sig`.
pub fn sign(
    secret_key_text: &str,
    component_sha256: &str,
    manifest_sha256: &str,
    trusted_comment: &str,
) -> Result<String, String> {
    let key_box = || SecretKeyBox::from_string(secret_key_text).map_err(|_| "not a minisign secret key".to_string());
    // An unencrypted key opens as is; an encrypted one asks for its password on the terminal.
    let key = match key_box()?.into_unencrypted_secret_key() {
        Ok(key) => key,
        Err(_) => SecretKey::from_box(key_box()?, None).map_err(|e| format!("cannot open the secret key: {e}"))?,
    };
    let public = PublicKey::from_secret_key(&key).ok();
    let signature = minisign::sign(
        public.as_ref(),
        &key,
        Cursor::new(signed_message(component_sha256, manifest_sha256)),
        Some(trusted_comment),
        Some("amakaflow plugin signature"),
    )
    .map_err(|e| e.to_string())?;
    Ok(signature.into_string())
}

/// The key id of a public key file's text (for `keygen`'s and `check`'s output).
pub fn public_key_id(public_key_text: &str) -> Option<String> {
    let key = PublicKeyBox::from_string(public_key_text).ok()?.into_public_key().ok()?;
    Some(key_id(key.keynum()))
}

/// Orders plugin versions (`1.10.0` after `1.9.2`): compares dot-, dash- or plus-separated parts,
/// numerically where both are numbers, as text otherwise; more parts is newer.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| v.trim().split(['.', '-', '+']).map(str::to_string).collect::<Vec<_>>();
    let (a, b) = (parts(a), parts(b));
    for (x, y) in a.iter().zip(&b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::*;

    fn settings(policy: SignaturePolicy, public: &str) -> SignatureSettings {
        SignatureSettings { policy, trusted_keys: TrustedKeys::parse(public).unwrap() }
    }

    #[test]
    fn a_signature_verifies_only_over_the_same_hashes_and_with_a_trusted_key() {
        let (public, secret, id) = generate_key_pair().unwrap();
        let (other_public, _, _) = generate_key_pair().unwrap();
        let sig = sign(&secret, "aa", "bb", "plugin echo 1.0.0").unwrap();
        let enforce = settings(SignaturePolicy::Enforce, &public);
        assert_eq!(
            check(&enforce, "echo", "aa", "bb", Some(&sig)).unwrap(),
            SignatureStatus::Verified { key_id: id.clone(), trusted_comment: "plugin echo 1.0.0".into() }
        );
        assert_eq!(public_key_id(&public).unwrap(), id);
        let tampered = check(&enforce, "echo", "ab", "bb", Some(&sig)).unwrap_err();
        assert!(tampered.contains("does not match"), "{tampered}");
        let unknown = check(&settings(SignaturePolicy::Enforce, &other_public), "echo", "aa", "bb", Some(&sig));
        assert!(unknown.unwrap_err().contains("not in PLUGIN_TRUSTED_KEYS"));
        assert!(check(&enforce, "echo", "aa", "bb", None).unwrap_err().contains("unsigned"));
        let warn = settings(SignaturePolicy::Warn, &other_public);
        assert!(matches!(check(&warn, "echo", "aa", "bb", Some(&sig)), Ok(SignatureStatus::Untrusted { .. })));
        assert_eq!(check(&warn, "echo", "aa", "bb", None), Ok(SignatureStatus::Unsigned));
        let off = settings(SignaturePolicy::Off, "");
        assert_eq!(check(&off, "echo", "aa", "bb", Some("junk")), Ok(SignatureStatus::NotChecked));
    }

    #[test]
    fn trusted_keys_come_as_a_list_or_as_a_pub_file() {
        let (a, _, id_a) = generate_key_pair().unwrap();
        let (b, _, id_b) = generate_key_pair().unwrap();
        let base64 = |pub_file: &str| pub_file.lines().nth(1).unwrap().to_string();
        let listed = TrustedKeys::parse(&format!("{}, {}", base64(&a), base64(&b))).unwrap();
        assert_eq!(listed.ids(), [id_a.clone(), id_b]);
        assert_eq!(TrustedKeys::parse(&a).unwrap().ids(), [id_a]);
        assert!(TrustedKeys::parse("not-a-key").is_err());
        assert!(TrustedKeys::parse(" ").unwrap().is_empty());
    }

    #[test]
    fn versions_order_numerically() {
        assert_eq!(compare_versions("1.10.0", "1.9.2"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.0", "1.0.0"), Ordering::Equal);
        assert_eq!(compare_versions("1.0", "1.0.1"), Ordering::Less);
        assert_eq!(compare_versions("2", "10"), Ordering::Less);
    }
}
