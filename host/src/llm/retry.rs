//! When and how long to wait before another attempt at a request that failed before its HTTP 200:
//! exponential backoff with jitter, Anthropic's `retry-after` honoured up to a cap, and a cap on the
//! total time spent waiting so a chat turn never hangs on retries.

use std::time::Duration;

use http::HeaderMap;

/// The retry settings of the client. The defaults suit production; tests shrink `base_delay`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub max_retries: u32,
    /// The first backoff; each further retry doubles it (before jitter).
    pub base_delay: Duration,
    /// The longest single backoff.
    pub max_delay: Duration,
    /// A `retry-after` longer than this is not waited for: the error is returned instead.
    pub max_retry_after: Duration,
    /// The most time spent waiting across all retries of one request.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            max_total_wait: Duration::from_secs(90),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `retry` (0 for the first retry), or `None` if the policy says
    /// to give up. `retry_after` is the server's request, `waited` the time already spent waiting.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, waited: Duration) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let delay = match retry_after {
            Some(asked) if asked > self.max_retry_after => return None,
            Some(asked) => asked,
            None => self.backoff(retry),
        };
        (waited + delay <= self.max_total_wait).then_some(delay)
    }

    /// Exponential backoff with jitter: a random point in the upper half of `base * 2^retry`.
    fn backoff(&self, retry: u32) -> Duration {
        let full = self.base_delay.saturating_mul(1u32 << retry.min(16)).min(self.max_delay);
        full.mul_f64(rand::random_range(0.5..=1.0))
    }
}

/// How long the server asks us to wait: `retry-after-ms`, else `retry-after` in (fractional)
/// seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return positive_seconds(ms / 1000.0);
    }
    let value = header("retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return positive_seconds(seconds);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn positive_seconds(seconds: f64) -> Option<Duration> {
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(1e9)))
}

/// The server's explicit verdict, if any (`x-should-retry: true|false`), which overrides ours.
pub(crate) fn should_retry_header(headers: &HeaderMap) -> Option<bool> {
    match headers.get("x-should-retry")?.to_str().ok()?.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn backoff_grows_with_jitter_and_stops_after_max_retries() {
        let policy = RetryPolicy { base_delay: Duration::from_millis(100), ..RetryPolicy::default() };
        for _ in 0..50 {
            let first = policy.delay(0, None, Duration::ZERO).unwrap();
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = policy.delay(2, None, Duration::ZERO).unwrap();
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
        }
        assert_eq!(policy.delay(3, None, Duration::ZERO), None);
    }

    #[test]
    fn backoff_is_capped() {
        let policy = RetryPolicy { max_retries: 30, ..RetryPolicy::default() };
        assert!(policy.delay(25, None, Duration::ZERO).unwrap() <= policy.max_delay);
    }

    #[test]
    fn retry_after_is_honoured_up_to_its_cap_and_the_total_wait_is_bounded() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(0, Some(Duration::from_secs(7)), Duration::ZERO), Some(Duration::from_secs(7)));
        assert_eq!(policy.delay(0, Some(Duration::from_secs(61)), Duration::ZERO), None);
        assert_eq!(policy.delay(1, Some(Duration::from_secs(40)), Duration::from_secs(60)), None);
    }

    #[test]
    fn retry_after_headers_are_read_in_every_form() {
        assert_eq!(retry_after(&headers(&[("retry-after", "3")])), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&headers(&[("retry-after", "1.5")])), Some(Duration::from_millis(1500)));
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250"), ("retry-after", "9")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        let past = retry_after(&headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]));
        assert_eq!(past, Some(Duration::ZERO));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn x_should_retry_is_read() {
        assert_eq!(should_retry_header(&headers(&[("x-should-retry", "false")])), Some(false));
        assert_eq!(should_retry_header(&headers(&[("x-should-retry", "true")])), Some(true));
        assert_eq!(should_retry_header(&HeaderMap::new()), None);
    }
}
