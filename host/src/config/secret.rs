//! A credential read from the environment, which formatting never reveals.
//!
//! Settings are printed in more places than one expects (`{config:?}` in a log line, a panic
//! message, a test failure). Holding every key, password and token in a [`Secret`] makes printing
//! harmless by construction, and the only way to the value, [`Secret::expose`], is a word a reviewer
//! notices. There is deliberately no `==`: a presented credential is compared in constant time
//! (`auth::service_key::constant_time_eq`), never with the ordinary string comparison.

use std::fmt;

/// A secret string: `Debug` and `Display` print `<redacted>`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send or check it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = Secret::new("sk-live-value");
        for shown in [format!("{secret}"), format!("{secret:?}"), format!("{:?}", Some(&secret))] {
            assert!(!shown.contains("sk-live-value"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
    }

    #[test]
    fn expose_gives_the_value_back() {
        assert_eq!(Secret::from("k".to_string()).expose(), "k");
        assert_eq!(Secret::from("k").expose(), "k");
    }
}
