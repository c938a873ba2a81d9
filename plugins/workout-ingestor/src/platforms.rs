//! Where workouts may be imported from: each platform's own domains (the ingestor fetches the URL,
//! so anything else would let a user make it fetch arbitrary addresses), its ingestor endpoint and
//! its label. URLs are split as Python's `urlparse` splits them, so checks read as the original's.

/// A platform workouts are imported from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    YouTube,
    TikTok,
    Instagram,
    Pinterest,
}

impl Platform {
    pub const ALL: [Platform; 4] = [Platform::YouTube, Platform::TikTok, Platform::Instagram, Platform::Pinterest];

    /// The hosts URLs may name.
    pub fn domains(self) -> &'static [&'static str] {
        match self {
            Platform::YouTube => &["youtube.com", "www.youtube.com", "youtu.be", "m.youtube.com"],
            Platform::TikTok => &["tiktok.com", "www.tiktok.com", "vm.tiktok.com", "m.tiktok.com"],
            Platform::Instagram => &["instagram.com", "www.instagram.com", "m.instagram.com"],
            Platform::Pinterest => &["pinterest.com", "www.pinterest.com", "pin.it", "m.pinterest.com"],
        }
    }

    /// The name in messages ("Invalid YouTube URL…").
    pub fn name(self) -> &'static str {
        match self {
            Platform::YouTube => "YouTube",
            Platform::TikTok => "TikTok",
            Platform::Instagram => "Instagram",
            Platform::Pinterest => "Pinterest",
        }
    }

    /// The `source` of the import result.
    pub fn source_label(self) -> &'static str {
        match self {
            Platform::YouTube => "YouTube video",
            Platform::TikTok => "TikTok video",
            Platform::Instagram => "Instagram post",
            Platform::Pinterest => "Pinterest",
        }
    }

    /// workout-ingestor-api's endpoint.
    pub fn endpoint(self) -> &'static str {
        match self {
            Platform::YouTube => "/ingest/youtube",
            Platform::TikTok => "/ingest/tiktok",
            Platform::Instagram => "/ingest/instagram_test",
            Platform::Pinterest => "/ingest/pinterest",
        }
    }
}

/// The scheme (lower case) and network location of a URL, as `urlparse` gives them; `None` where
/// `urlparse` raises (an unbalanced `[` in the location).
pub fn split(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = match url.split_once(':') {
        Some((scheme, rest))
            if scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (scheme.to_ascii_lowercase(), rest)
        }
        _ => (String::new(), url),
    };
    let netloc = match rest.strip_prefix("//") {
        Some(after) => after[..after.find(['/', '?', '#']).unwrap_or(after.len())].to_string(),
        None => String::new(),
    };
    if netloc.contains('[') != netloc.contains(']') {
        return None;
    }
    Some((scheme, netloc))
}

/// The original `_validate_url`: a non-empty `http(s)` URL on one of `platform`'s domains. Returns
/// the URL without surrounding blanks, or the validation message.
pub fn validate(url: Option<&str>, platform: Platform) -> Result<String, String> {
    let url = url.unwrap_or("").trim();
    if url.is_empty() {
        return Err("URL cannot be empty".to_string());
    }
    let Some((scheme, netloc)) = split(url) else {
        return Err("Invalid URL format".to_string());
    };
    if scheme != "http" && scheme != "https" {
        return Err("Invalid URL. Must start with http:// or https://".to_string());
    }
    let host = netloc.to_lowercase();
    let domain = host.split(':').next().unwrap_or("");
    if !platform.domains().contains(&domain) {
        let name = platform.name();
        return Err(format!("Invalid {name} URL. Please provide a valid {name} link."));
    }
    Ok(url.to_string())
}

/// The platform of a URL, as the original's `detect_platform`: `http(s)`, and the location (without
/// `www.`) one of the platform's domains.
pub fn detect(url: &str) -> Option<Platform> {
    let (scheme, netloc) = split(url)?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let domain = bare_domain(&netloc);
    Platform::ALL.into_iter().find(|p| p.domains().iter().any(|d| domain == *d || domain == format!("www.{d}")))
}

/// The location lower-cased without `www.`, as the original named a domain in its messages.
pub fn bare_domain(netloc: &str) -> String {
    netloc.to_lowercase().replace("www.", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls_as_urlparse() {
        assert_eq!(
            split("HTTPS://www.YouTube.com:443/watch?v=1"),
            Some(("https".into(), "www.YouTube.com:443".into()))
        );
        assert_eq!(split("youtube.com/watch"), Some((String::new(), String::new())));
        assert_eq!(split("uploaded:legs.png"), Some(("uploaded".into(), String::new())));
        assert_eq!(split("http://[::1/x"), None);
    }

    #[test]
    fn only_the_platforms_own_domains_pass() {
        assert_eq!(validate(Some(" https://youtu.be/abc "), Platform::YouTube).unwrap(), "https://youtu.be/abc");
        assert_eq!(
            validate(Some("https://m.youtube.com:8443/x"), Platform::YouTube).unwrap(),
            "https://m.youtube.com:8443/x"
        );
        assert_eq!(validate(Some("  "), Platform::YouTube).unwrap_err(), "URL cannot be empty");
        assert_eq!(
            validate(Some("ftp://youtube.com/x"), Platform::YouTube).unwrap_err(),
            "Invalid URL. Must start with http:// or https://"
        );
        for bad in [
            "https://youtube.com.evil.example/x",
            "https://evil.example/?u=youtube.com",
            "https://user@youtube.com/x",
            "http://169.254.169.254/",
        ] {
            assert_eq!(
                validate(Some(bad), Platform::YouTube).unwrap_err(),
                "Invalid YouTube URL. Please provide a valid YouTube link.",
                "{bad}"
            );
        }
        assert_eq!(validate(Some("http://[::1/x"), Platform::TikTok).unwrap_err(), "Invalid URL format");
    }

    #[test]
    fn detects_the_platform() {
        assert_eq!(detect("https://www.tiktok.com/@a/video/1"), Some(Platform::TikTok));
        assert_eq!(detect("https://pin.it/abc"), Some(Platform::Pinterest));
        assert_eq!(detect("https://www.instagram.com/p/x"), Some(Platform::Instagram));
        assert_eq!(detect("https://vimeo.com/1"), None);
        assert_eq!(detect("uploaded:x.png"), None);
    }
}
