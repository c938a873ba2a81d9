//! Just enough URL handling for outgoing requests: split `scheme://authority/path?query`, resolve a
//! redirect's `Location`, and percent-encode query values.

use super::HttpError;

/// A URL split the way `wasi:http` wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url {
    pub scheme: String,
    pub authority: String,
    /// Path and query, starting with `/`.
    pub path_with_query: String,
}

impl Url {
    pub fn parse(raw: &str) -> Result<Url, HttpError> {
        let invalid = || HttpError::InvalidUrl(raw.to_string());
        let (scheme, rest) = raw.split_once("://").ok_or_else(invalid)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(invalid());
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
            return Err(invalid());
        }
        let mut path = rest[end..].split('#').next().unwrap_or("").to_string();
        if path.is_empty() || path.starts_with('?') {
            path.insert(0, '/');
        }
        if path.contains(char::is_whitespace) {
            return Err(invalid());
        }
        Ok(Url { scheme, authority: authority.to_string(), path_with_query: path })
    }

    /// The absolute URL a `Location` header points to, relative to this one.
    pub fn join(&self, location: &str) -> Result<Url, HttpError> {
        if location.contains("://") {
            Url::parse(location)
        } else if let Some(rest) = location.strip_prefix("//") {
            Url::parse(&format!("{}://{rest}", self.scheme))
        } else if location.starts_with('/') {
            Url::parse(&format!("{}://{}{location}", self.scheme, self.authority))
        } else {
            let path = self.path_with_query.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            Url::parse(&format!("{}://{}{dir}{location}", self.scheme, self.authority))
        }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.path_with_query)
    }
}

/// Appends `pairs` to a URL's query string, percent-encoded.
pub(crate) fn append_query(url: &mut String, pairs: &[(&str, &str)]) {
    for (i, (key, value)) in pairs.iter().enumerate() {
        let separator = if i == 0 && !url.contains('?') { '?' } else { '&' };
        url.push(separator);
        encode_into(url, key);
        url.push('=');
        encode_into(url, value);
    }
}

/// `application/x-www-form-urlencoded` / query encoding (unreserved characters kept as is).
pub(crate) fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_url() {
        let url = Url::parse("https://api.example.com:8443/a/b?c=d#frag").unwrap();
        assert_eq!(url.scheme, "https");
        assert_eq!(url.authority, "api.example.com:8443");
        assert_eq!(url.path_with_query, "/a/b?c=d");
        assert_eq!(Url::parse("http://h").unwrap().path_with_query, "/");
        assert_eq!(Url::parse("http://h?x=1").unwrap().path_with_query, "/?x=1");
    }

    #[test]
    fn refuses_what_it_cannot_send() {
        for bad in ["ftp://h/", "h/path", "http:///x", "http://user@h/", "http://h/a b"] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolves_redirect_locations() {
        let base = Url::parse("http://a.test/x/y?q").unwrap();
        assert_eq!(base.join("http://b.test/z").unwrap().to_string(), "http://b.test/z");
        assert_eq!(base.join("//c.test/z").unwrap().to_string(), "http://c.test/z");
        assert_eq!(base.join("/z").unwrap().to_string(), "http://a.test/z");
        assert_eq!(base.join("z").unwrap().to_string(), "http://a.test/x/z");
    }

    #[test]
    fn encodes_query_values() {
        let mut url = "http://h/s".to_string();
        append_query(&mut url, &[("q", "leg day & more"), ("limit", "5")]);
        assert_eq!(url, "http://h/s?q=leg%20day%20%26%20more&limit=5");
        append_query(&mut url, &[("x", "é")]);
        assert!(url.ends_with("&x=%C3%A9"));
    }
}
