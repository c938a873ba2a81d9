//! Outgoing HTTP for tools, over `wasi:http`: build a [`Request`] with [`get`], [`post`], [`put`],
//! [`patch`] or [`delete`], add a JSON body, query parameters or a multipart form, and `send` it.
//!
//! ```no_run
//! use amakaflow_tool_sdk::prelude::*;
//!
//! # fn f() -> Result<(), ToolError> {
//! let base = config::required("calendar_url")?;
//! let created: Value = http::post(format!("{base}/calendar"))
//!     .json(&json!({"workout_id": "w1", "scheduled_date": "2026-02-01"}))
//!     .send_json()?; // any status other than 2xx becomes an error; `?` maps it for the model
//! # Ok(()) }
//! ```
//!
//! Every request passes the host's egress policy: only the origins the plugin's `plugin.toml`
//! allows are reachable, the host adds the user's `Authorization`/`X-User-Id` and secret headers
//! where the manifest says so (overwriting whatever the plugin set), timeouts are clamped to the
//! call's remaining time and responses are size-capped. Redirects are not followed unless asked
//! for with [`Request::follow_redirects`]; each hop is checked by the host again.

mod error;
mod multipart;
#[cfg(target_arch = "wasm32")]
mod transport;
pub(crate) mod url;

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::HttpError;
pub use multipart::Multipart;

// One exchange goes to the host's `wasi:http` in a component, to the scripted host natively (unit tests).
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::host_calls::exchange;
#[cfg(target_arch = "wasm32")]
use transport::send as exchange;

/// Default limit on the time to connect, to the first byte and between bytes (the host may clamp
/// it further to the call's remaining budget), unless the manifest's `[config]` sets
/// [`TIMEOUT_CONFIG_KEY`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The `[config]` key (seconds) that replaces [`DEFAULT_TIMEOUT`] for every request of a plugin. A
/// plugin sets it below its call budget so a slow service is reported as such ("taking too long")
/// rather than the whole call being stopped.
pub const TIMEOUT_CONFIG_KEY: &str = "http_timeout_seconds";
/// Default limit on the response body the SDK reads into memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// An HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

/// A request being built; nothing is sent until [`Request::send`].
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// `None`: the plugin's configured default, read when the request is sent.
    timeout: Option<Duration>,
    max_response_bytes: usize,
    max_redirects: u32,
    error: Option<HttpError>,
}

pub fn get(url: impl Into<String>) -> Request {
    Request::new(Method::Get, url)
}

pub fn post(url: impl Into<String>) -> Request {
    Request::new(Method::Post, url)
}

pub fn put(url: impl Into<String>) -> Request {
    Request::new(Method::Put, url)
}

pub fn patch(url: impl Into<String>) -> Request {
    Request::new(Method::Patch, url)
}

pub fn delete(url: impl Into<String>) -> Request {
    Request::new(Method::Delete, url)
}

impl Request {
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_redirects: 0,
            error: None,
        }
    }

    /// Adds a header. Headers the host injects for this origin (user auth, secrets) replace
    /// whatever is set here.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Appends percent-encoded query parameters.
    pub fn query(mut self, pairs: &[(&str, &str)]) -> Request {
        url::append_query(&mut self.url, pairs);
        self
    }

    /// A JSON body (`Content-Type: application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Request {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body(bytes, "application/json"),
            Err(err) => {
                self.error = Some(HttpError::Protocol(format!("cannot encode the JSON body: {err}")));
                self
            }
        }
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form(self, pairs: &[(&str, &str)]) -> Request {
        let mut encoded = String::new();
        for (i, (key, value)) in pairs.iter().enumerate() {
            if i > 0 {
                encoded.push('&');
            }
            url::encode_into(&mut encoded, key);
            encoded.push('=');
            url::encode_into(&mut encoded, value);
        }
        self.body(encoded.into_bytes(), "application/x-www-form-urlencoded")
    }

    /// A `multipart/form-data` body.
    pub fn multipart(self, form: Multipart) -> Request {
        let (content_type, body) = form.encode();
        self.body(body, &content_type)
    }

    /// A raw body with its content type.
    pub fn body(mut self, bytes: Vec<u8>, content_type: &str) -> Request {
        self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        self.headers.push(("content-type".to_string(), content_type.to_string()));
        self.body = Some(bytes);
        self
    }

    /// Limit on connecting, on the first response byte and between bytes (default: the plugin's
    /// `http_timeout_seconds` setting, else 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(timeout);
        self
    }

    /// Limit on the response body read into memory (default 10 MiB); more is [`HttpError::TooLarge`].
    pub fn max_response_bytes(mut self, bytes: usize) -> Request {
        self.max_response_bytes = bytes;
        self
    }

    /// Follow up to `max` redirects (301, 302, 303, 307, 308). Off by default.
    pub fn follow_redirects(mut self, max: u32) -> Request {
        self.max_redirects = max;
        self
    }

    /// Sends the request and reads the whole response. Any status is a response; see
    /// [`Response::error_for_status`] and [`Request::send_json`].
    pub fn send(self) -> Result<Response, HttpError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let mut url = url::Url::parse(&self.url)?;
        let mut method = self.method;
        let mut body = self.body;
        let mut headers = self.headers;
        let mut redirects = 0;
        let timeout = self.timeout.unwrap_or_else(configured_timeout);
        loop {
            let response = exchange(method, &url, &headers, body.as_deref(), timeout, self.max_response_bytes)?;
            let location = response.header("location").map(str::to_string);
            let redirect = matches!(response.status, 301 | 302 | 303 | 307 | 308);
            match location {
                Some(location) if redirect && redirects < self.max_redirects => {
                    redirects += 1;
                    url = url.join(&location)?;
                    if response.status == 303 || (matches!(response.status, 301 | 302) && method == Method::Post) {
                        method = Method::Get;
                        body = None;
                        headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
                    }
                }
                _ => return Ok(response),
            }
        }
    }

    /// Sends, treats any status other than 2xx as an error, and parses the body as JSON.
    pub fn send_json<T: DeserializeOwned>(self) -> Result<T, HttpError> {
        self.send()?.error_for_status()?.json()
    }
}

/// The plugin's `http_timeout_seconds` setting, else [`DEFAULT_TIMEOUT`].
fn configured_timeout() -> Duration {
    crate::config::get(TIMEOUT_CONFIG_KEY)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// A complete response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response, or [`HttpError::Status`] for a status other than 2xx.
    pub fn error_for_status(self) -> Result<Response, HttpError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(HttpError::Status { status: self.status, body: String::from_utf8_lossy(&self.body).into_owned() })
        }
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|err| HttpError::Decode(err.to_string()))
    }
}
