//! A replaying sender for `chat-api plugins test`: instead of dialling the origin, a request that
//! passed every check of [`super::hooks`] (its origin allowed by a rule, a request slot free, the
//! call's request count, the host's headers added) is matched against the exchanges the test case
//! scripted, and answered with the canned response. The rest of the policy still holds: the
//! addresses known offline (literals, `--resolve` overrides, `localhost`) are checked against the
//! rule, the response is capped at `max_response_bytes`, the request body is read within the call's
//! deadline, and the slot is held until the response body is done. Every request that matches no
//! scripted exchange, or differs from it, and every exchange left unused is a [`ReplayProblem`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::{Error, WasiBody};

use super::in_flight::Tracked;
use super::send::Target;
use super::{Network, Violation, Violations};

/// One request a test case expects, and what the origin answers.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Upper case.
    pub method: String,
    /// The absolute URL, query included.
    pub url: String,
    /// Headers the request must carry with exactly these values (lower-case names); others are ignored.
    pub headers: Vec<(String, String)>,
    pub body: Option<ExpectedBody>,
    pub response: CannedResponse,
}

/// The body a request must have.
#[derive(Clone, Debug)]
pub enum ExpectedBody {
    /// Equal as JSON (key order and spacing aside).
    Json(Value),
    /// Byte for byte.
    Text(String),
}

/// What the replayed origin answers.
#[derive(Clone, Debug)]
pub struct CannedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// What went differently from the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayProblem {
    /// A request no scripted exchange has (`METHOD url`).
    Unexpected { request: String },
    /// A request whose method and URL match an exchange, with other differences.
    Differs { request: String, differences: Vec<String> },
    /// A scripted exchange no request came for.
    Missing { exchange: String },
}

impl std::fmt::Display for ReplayProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayProblem::Unexpected { request } => write!(f, "unexpected request: {request}"),
            ReplayProblem::Differs { request, differences } => {
                write!(f, "request {request} differs from the expected one:")?;
                differences.iter().try_for_each(|d| write!(f, "\n    {d}"))
            }
            ReplayProblem::Missing { exchange } => write!(f, "missing request: {exchange} was expected but never sent"),
        }
    }
}

/// The script of the test case running now (cases run one at a time) and what happened.
#[derive(Debug, Default)]
pub struct Replay {
    state: Mutex<ReplayState>,
}

#[derive(Debug, Default)]
struct ReplayState {
    /// `None` once used.
    pending: Vec<Option<Exchange>>,
    problems: Vec<ReplayProblem>,
}

impl Replay {
    /// Starts a test case: these exchanges, nothing seen yet.
    pub fn script(&self, exchanges: Vec<Exchange>) {
        *self.state.lock() = ReplayState { pending: exchanges.into_iter().map(Some).collect(), problems: Vec::new() };
    }

    /// Ends the test case: what went differently, the exchanges never used included.
    pub fn finish(&self) -> Vec<ReplayProblem> {
        let state = std::mem::take(&mut *self.state.lock());
        let mut problems = state.problems;
        for exchange in state.pending.into_iter().flatten() {
            problems.push(ReplayProblem::Missing { exchange: format!("{} {}", exchange.method, exchange.url) });
        }
        problems
    }

    /// Answers one request that passed the hooks' checks.
    pub async fn send(
        self: Arc<Self>,
        request: http::Request<WasiBody>,
        target: Target,
        network: Arc<Network>,
        violations: Violations,
    ) -> Result<(http::Response<WasiBody>, super::send::IoFuture), Error> {
        for ip in offline_addresses(&network, &target.host) {
            if let Err(class) = target.rule.address_allowed(ip) {
                violations.record(Violation::AddressDenied { host: target.host.clone(), class });
                return Err(Error::DestinationIpProhibited);
            }
        }
        let (parts, body) = request.into_parts();
        let body = match tokio::time::timeout_at(target.deadline.into(), body.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(err)) => return Err(err),
            Err(_) => {
                violations.record(Violation::BudgetExhausted);
                return Err(Error::ConnectionWriteTimeout);
            }
        };
        let url = normalized_url(&parts.uri.to_string());
        let request_line = format!("{} {url}", parts.method);
        let Some(response) = self.answer(&parts, &url, &request_line, &body) else {
            return Err(Error::ConnectionRefused);
        };
        if response.body.len() as u64 > target.max_response_bytes {
            violations.record(Violation::ResponseTooLarge { limit: target.max_response_bytes });
            return Err(Error::HttpResponseBodySize(Some(response.body.len() as u64)));
        }
        let mut builder = http::Response::builder().status(response.status);
        for (name, value) in &response.headers {
            builder = builder.header(name, value);
        }
        let Target { slot, tracked, .. } = target;
        let body = ReplayedBody { data: Some(response.body.clone()), slot: Some(slot), _tracked: tracked };
        let response = builder.body(body.boxed_unsync()).map_err(|_| Error::HttpProtocolError)?;
        Ok((response, Box::new(async { Ok(()) })))
    }

    /// The canned response of the exchange this request matches (by method and URL), recording how
    /// it differs; `None` for a request no exchange has.
    fn answer(&self, parts: &http::request::Parts, url: &str, request: &str, body: &[u8]) -> Option<CannedResponse> {
        let mut state = self.state.lock();
        let found = state.pending.iter().position(|e| {
            e.as_ref()
                .is_some_and(|e| e.method.eq_ignore_ascii_case(parts.method.as_str()) && normalized_url(&e.url) == url)
        });
        let Some(index) = found else {
            state.problems.push(ReplayProblem::Unexpected { request: request.to_string() });
            return None;
        };
        let exchange = state.pending[index].take()?;
        let differences = differences(&exchange, &parts.headers, body);
        if !differences.is_empty() {
            state.problems.push(ReplayProblem::Differs { request: request.to_string(), differences });
        }
        Some(exchange.response)
    }
}

/// How a request differs from its exchange in headers and body.
fn differences(exchange: &Exchange, headers: &http::HeaderMap, body: &[u8]) -> Vec<String> {
    let mut differences = Vec::new();
    for (name, expected) in &exchange.headers {
        let actual = headers.get(name.as_str()).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if actual.as_deref() != Some(expected.as_str()) {
            let actual = actual.map(|a| format!("{a:?}")).unwrap_or_else(|| "absent".to_string());
            differences.push(format!("header {name}: expected {expected:?}, got {actual}"));
        }
    }
    match &exchange.body {
        Some(ExpectedBody::Text(expected)) if body != expected.as_bytes() => {
            differences.push(format!("body: expected {expected:?}, got {:?}", String::from_utf8_lossy(body)));
        }
        None | Some(ExpectedBody::Text(_)) => {}
        Some(ExpectedBody::Json(expected)) => match serde_json::from_slice::<Value>(body) {
            Ok(actual) => differences.extend(
                crate::author::json_diff::differences(expected, &actual).into_iter().map(|d| format!("body {d}")),
            ),
            Err(_) => {
                differences.push(format!("body: expected JSON {expected}, got {:?}", String::from_utf8_lossy(body)))
            }
        },
    }
    differences
}

/// `scheme://host[:port]/path?query` with the scheme and host in lower case and a default port left out,
/// so that an exchange written either way matches.
pub fn normalized_url(url: &str) -> String {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return url.to_string();
    };
    let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let default_port = if scheme == "https" { 443 } else { 80 };
    let port = uri.port_u16().filter(|p| *p != default_port).map(|p| format!(":{p}")).unwrap_or_default();
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{scheme}://{host}{port}{path}")
}

/// The addresses of `host` that are known without a DNS lookup (a test runs offline): an address
/// literal, a configured override, `localhost`. Any other name stands for the public origin the
/// script replays.
fn offline_addresses(network: &Network, host: &str) -> Vec<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![ip];
    }
    if let Some(ips) = network.override_for(host) {
        return ips.to_vec();
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];
    }
    Vec::new()
}

/// A canned body: one frame, then the request's slot is given back.
struct ReplayedBody {
    data: Option<Bytes>,
    slot: Option<OwnedSemaphorePermit>,
    _tracked: Arc<Tracked>,
}

impl Body for ReplayedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match self.data.take() {
            Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
            None => {
                self.slot = None;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_compare_with_default_ports_and_case_aside() {
        assert_eq!(normalized_url("HTTP://LocalHost:80/a?b=1"), "http://localhost/a?b=1");
        assert_eq!(normalized_url("https://api.example.com:443/x"), "https://api.example.com/x");
        assert_eq!(normalized_url("http://localhost:8001/w?x=1"), "http://localhost:8001/w?x=1");
        assert_ne!(normalized_url("http://localhost:8001/w?x=1"), normalized_url("http://localhost:8001/w?x=2"));
    }

    fn exchange(method: &str, url: &str) -> Exchange {
        Exchange {
            method: method.into(),
            url: url.into(),
            headers: vec![("x-user-id".into(), "u1".into())],
            body: Some(ExpectedBody::Json(serde_json::json!({"a": 1}))),
            response: CannedResponse { status: 200, headers: Vec::new(), body: Bytes::from_static(b"{}") },
        }
    }

    fn parts(method: &str, url: &str, user: &str) -> http::request::Parts {
        http::Request::builder().method(method).uri(url).header("x-user-id", user).body(()).unwrap().into_parts().0
    }

    #[test]
    fn each_kind_of_mismatch_is_reported() {
        let replay = Replay::default();
        replay.script(vec![exchange("POST", "http://localhost:8001/a"), exchange("GET", "http://localhost:8001/b")]);
        let url = normalized_url("http://localhost:8001/a");
        assert!(replay.answer(&parts("POST", &url, "u2"), &url, "POST a", br#"{"a": 2}"#).is_some());
        let other = normalized_url("http://localhost:8001/c");
        assert!(replay.answer(&parts("GET", &other, "u1"), &other, "GET c", b"").is_none());
        let problems = replay.finish();
        assert_eq!(problems.len(), 3, "{problems:?}");
        let ReplayProblem::Differs { differences, .. } = &problems[0] else { panic!("{problems:?}") };
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(
            differences[0].contains("x-user-id") && differences[1].contains("expected 1, got 2"),
            "{differences:?}"
        );
        assert_eq!(problems[1], ReplayProblem::Unexpected { request: "GET c".into() });
        assert_eq!(problems[2], ReplayProblem::Missing { exchange: "GET http://localhost:8001/b".into() });
        assert!(replay.finish().is_empty(), "a finished script is cleared");
    }
}
