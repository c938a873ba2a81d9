//! How an HTTP request can fail, and how each failure reads to the model: `?` in a tool function
//! turns an [`HttpError`] into the original service's `execution_error` messages.

use std::fmt;

use crate::ToolError;
#[cfg(target_arch = "wasm32")]
use crate::bindings::wasi::http::types::ErrorCode;

/// A failed request (or a response the caller treats as failure, see
/// [`Response::error_for_status`](super::Response::error_for_status)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The URL could not be parsed.
    InvalidUrl(String),
    /// Connecting, the first byte or the next bytes took too long.
    Timeout,
    /// No connection: refused, DNS failure, TLS failure, connection dropped.
    Connect(String),
    /// The host's egress policy refused the destination (not in `plugin.toml`, or a forbidden address).
    Denied(String),
    /// The response is larger than allowed.
    TooLarge,
    /// The server answered with a status the caller treats as failure.
    Status { status: u16, body: String },
    /// The response body is not what was expected (e.g. not JSON).
    Decode(String),
    /// Anything else on the HTTP level.
    Protocol(String),
}

impl HttpError {
    /// The HTTP status, for [`HttpError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn from_code(code: &ErrorCode) -> HttpError {
        match code {
            ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout
            | ErrorCode::DnsTimeout => HttpError::Timeout,
            ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => HttpError::Denied(format!("{code:?}")),
            ErrorCode::HttpResponseBodySize(_) => HttpError::TooLarge,
            ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            | ErrorCode::ConnectionTerminated
            | ErrorCode::ConnectionLimitReached
            | ErrorCode::TlsProtocolError
            | ErrorCode::TlsCertificateError
            | ErrorCode::TlsAlertReceived(_) => HttpError::Connect(format!("{code:?}")),
            other => HttpError::Protocol(format!("{other:?}")),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::InvalidUrl(url) => write!(f, "invalid URL: {url}"),
            HttpError::Timeout => write!(f, "timed out"),
            HttpError::Connect(why) => write!(f, "connection failed: {why}"),
            HttpError::Denied(why) => write!(f, "refused by the egress policy: {why}"),
            HttpError::TooLarge => write!(f, "response too large"),
            HttpError::Status { status, .. } => write!(f, "HTTP status {status}"),
            HttpError::Decode(why) => write!(f, "unexpected response: {why}"),
            HttpError::Protocol(why) => write!(f, "HTTP error: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// The original service's mapping of downstream failures (`original-contract.md` §2.5).
impl From<HttpError> for ToolError {
    fn from(err: HttpError) -> ToolError {
        let message = match &err {
            HttpError::Timeout => "The service is taking too long. Please try again.".to_string(),
            HttpError::Status { status: 401, .. } => "Authentication error. Please try logging in again.".to_string(),
            HttpError::Status { status: 404, .. } => "The requested item was not found.".to_string(),
            HttpError::Status { status, .. } => format!("Service error ({status})"),
            HttpError::TooLarge => "The service's response was too large.".to_string(),
            HttpError::Decode(_) => "The service returned an unexpected response.".to_string(),
            HttpError::InvalidUrl(_) | HttpError::Connect(_) | HttpError::Denied(_) | HttpError::Protocol(_) => {
                "Unable to connect to the service.".to_string()
            }
        };
        ToolError::execution(message)
    }
}
