//! The `wasi:http` hooks of one call: every request the guest sends arrives in
//! [`EgressHooks::send_request`], is matched against the plugin's rules (refused with
//! `HttpRequestDenied` when no rule allows its origin), gets the host's headers (the caller's
//! credentials, the manifest's secrets: they overwrite anything the guest set) and is handed to
//! [`super::send`] with the call's deadline and one of the call's request slots (none free: the
//! guest gets `connection-limit-reached`, and may retry once an earlier response is done).

use std::sync::Arc;
use std::time::Instant;

use http::uri::Scheme;
use http::{HeaderName, HeaderValue};
use tracing::Instrument;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::send::{self, Target};
use super::{EgressPolicy, Network, RequestSlots, Violation, Violations};

static X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The most requests one call may send (a tool needs a handful; a runaway loop must not hammer a
/// service it is allowed to reach).
pub const MAX_REQUESTS_PER_CALL: u32 = 64;

/// The egress state of one call, held in its store.
pub struct EgressHooks {
    pub policy: Arc<EgressPolicy>,
    pub network: Arc<Network>,
    /// The caller's `Authorization`, for rules with `forward_user_auth`.
    pub authorization: Option<HeaderValue>,
    pub user_id: Option<HeaderValue>,
    /// When the call's budget ends; connections and reads are cut there.
    pub deadline: Instant,
    pub max_response_bytes: u64,
    pub violations: Violations,
    /// Requests sent so far by this call.
    pub requests: u32,
    /// The call's cap on requests in flight.
    pub slots: RequestSlots,
}

type ResponseFuture = Box<
    dyn Future<Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>>
        + Send,
>;

impl WasiHttpHooks for EgressHooks {
    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_error: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        let uri = request.uri();
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let Some(host) = uri.host().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase())
        else {
            return Box::new(async { Err(Error::HttpRequestUriInvalid) });
        };
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });

        let Some(rule) = self.policy.find(https, &host, port) else {
            let scheme = if https { "https" } else { "http" };
            let origin = if host.contains(':') {
                format!("{scheme}://[{host}]:{port}")
            } else {
                format!("{scheme}://{host}:{port}")
            };
            tracing::warn!(%origin, "plugin request to an origin its manifest does not allow");
            self.violations.record(Violation::OriginDenied { origin });
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        // Refused before it is sent, so it does not count towards the requests of the call.
        let Some(slot) = self.slots.take() else {
            tracing::debug!(cap = self.slots.cap(), "plugin request over its max_requests_in_flight");
            return Box::new(async { Err(Error::ConnectionLimitReached) });
        };
        self.requests += 1;
        if self.requests > MAX_REQUESTS_PER_CALL {
            self.violations.record(Violation::TooManyRequests { limit: MAX_REQUESTS_PER_CALL });
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }

        // The request's own span: its time, and the `traceparent` the host propagates.
        let span = tracing::info_span!("egress", method = %request.method(), host = %host, port = i64::from(port));
        let headers = request.headers_mut();
        if rule.forward_user_auth {
            headers.remove(http::header::AUTHORIZATION);
            headers.remove(&X_USER_ID);
            if let Some(authorization) = &self.authorization {
                headers.insert(http::header::AUTHORIZATION, authorization.clone());
            }
            if let Some(user_id) = &self.user_id {
                headers.insert(X_USER_ID.clone(), user_id.clone());
            }
        }
        for (name, value) in &rule.headers {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(traceparent) =
            self.network.trace_context.as_ref().and_then(|hook| span.in_scope(|| hook.traceparent()))
        {
            headers.insert(TRACEPARENT.clone(), traceparent);
        }

        let target = Target {
            rule: rule.clone(),
            host,
            port,
            https,
            deadline: self.deadline,
            max_response_bytes: self.max_response_bytes,
            slot,
            tracked: self.network.in_flight.track(),
        };
        let (network, violations) = (self.network.clone(), self.violations.clone());
        match &network.replay {
            // `plugins test`: past every check above, answered from the test's script.
            Some(replay) => {
                Box::new(replay.clone().send(request, target, network.clone(), violations).instrument(span))
            }
            None => Box::new(send::send(request, options, target, network, violations).instrument(span)),
        }
    }
}
