//! Sends one allowed request. Unlike wasmtime's `default_send_request`, which dials whatever the
//! name resolves to, this resolves the host itself, refuses the request if any address is one the
//! rule does not allow (so a permitted name pointing at loopback or the metadata service gets
//! nowhere), dials a validated address, and uses the name for TLS. Every phase (connect, first
//! byte, between bytes) is limited by the guest's option clamped to the call's remaining budget,
//! and the response body is capped at `max_response_bytes`. Redirects are never followed here: a
//! 3xx goes back to the guest, whose next request is checked like any other. The request's slot
//! (the call's cap on requests in flight) is held until its response body is read to the end or
//! dropped; its in-flight count until the connection task is gone too.

use std::future::poll_fn;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::in_flight::Tracked;
use super::{EgressRule, Network, Violation, Violations};

/// Where an allowed request goes, and the limits it runs under.
pub struct Target {
    pub rule: EgressRule,
    /// Lower case, without brackets.
    pub host: String,
    pub port: u16,
    pub https: bool,
    pub deadline: Instant,
    pub max_response_bytes: u64,
    /// One of the call's request slots.
    pub slot: OwnedSemaphorePermit,
    /// Counts the request in flight.
    pub tracked: Arc<Tracked>,
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// The connection's I/O, driven by wasmtime while the response body is read.
pub type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// A time limit for one phase of the request, and whether it is the call's budget that sets it.
#[derive(Clone, Copy)]
struct Phase {
    limit: Duration,
    by_budget: bool,
}

impl Phase {
    fn new(requested: Option<Duration>, deadline: Instant) -> Phase {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match requested {
            Some(limit) if limit < remaining => Phase { limit, by_budget: false },
            _ => Phase { limit: remaining, by_budget: true },
        }
    }

    /// Runs `future` within the phase's limit; `expired` is the error when it does not finish.
    async fn run<F: Future>(self, violations: &Violations, expired: Error, future: F) -> Result<F::Output, Error> {
        match tokio::time::timeout(self.limit, future).await {
            Ok(output) => Ok(output),
            Err(_) => {
                if self.by_budget {
                    violations.record(Violation::BudgetExhausted);
                }
                Err(expired)
            }
        }
    }
}

pub async fn send(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    target: Target,
    network: Arc<Network>,
    violations: Violations,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let options = options.unwrap_or_default();
    let connect = Phase::new(options.connect_timeout, target.deadline);
    let stream =
        connect.run(&violations, Error::ConnectionTimeout, connect_to(&target, &network, &violations)).await??;
    let handshake = hyper::client::conn::http1::Builder::new().handshake::<_, WasiBody>(TokioIo::new(stream));
    let (mut sender, conn) =
        connect.run(&violations, Error::ConnectionTimeout, handshake).await?.map_err(Error::from)?;

    // The request line carries the path only (the authority is in the Host header).
    let path = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
    *request.uri_mut() = http::Uri::builder().path_and_query(path).build().map_err(|_| Error::HttpRequestUriInvalid)?;

    let first_byte = Phase::new(options.first_byte_timeout, target.deadline);
    let response = {
        let violations = violations.clone();
        async move {
            first_byte
                .run(&violations, Error::ConnectionReadTimeout, sender.send_request(request))
                .await?
                .map_err(Error::from)
        }
    };
    let mut response = pin!(response);
    let mut conn = Some(conn);
    // Wait for the response while driving the connection's I/O.
    let response = poll_fn(|cx| match response.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(result),
        Poll::Pending => {
            let Some(io) = conn.as_mut() else {
                return Poll::Pending;
            };
            let finished = ready!(Pin::new(io).poll(cx));
            conn = None;
            match finished {
                Ok(()) => response.as_mut().poll(cx),
                Err(err) => Poll::Ready(Err(Error::from(err))),
            }
        }
    })
    .await?;

    if let Some(length) = content_length(response.headers())
        && length > target.max_response_bytes
    {
        violations.record(Violation::ResponseTooLarge { limit: target.max_response_bytes });
        return Err(Error::HttpResponseBodySize(Some(length)));
    }
    let between_bytes = options.between_bytes_timeout;
    let Target { max_response_bytes, deadline, slot, tracked, .. } = target;
    let parts = RequestParts { slot: Some(slot), _tracked: tracked.clone() };
    let response = response.map(|incoming| {
        CappedBody::new(incoming, max_response_bytes, between_bytes, deadline, violations, parts).boxed_unsync()
    });
    let io: IoFuture = Box::new(async move {
        let _tracked = tracked;
        match conn.take() {
            None => Ok(()),
            Some(conn) => {
                conn.await.map_err(|err| if err.is_timeout() { Error::HttpResponseTimeout } else { Error::from(err) })
            }
        }
    });
    Ok((response, io))
}

/// Resolves, checks every address against the rule, and connects to the first that answers.
async fn connect_to(target: &Target, network: &Network, violations: &Violations) -> Result<Box<dyn Stream>, Error> {
    let addrs = network
        .resolve(&target.host, target.port)
        .await
        .map_err(|err| Error::DnsError { rcode: Some(err.to_string()), info_code: None })?;
    for addr in &addrs {
        if let Err(class) = target.rule.address_allowed(addr.ip()) {
            tracing::warn!(host = %target.host, address = %addr.ip(), "plugin request to a host resolving to {}", class.describe());
            violations.record(Violation::AddressDenied { host: target.host.clone(), class });
            return Err(Error::DestinationIpProhibited);
        }
    }
    let mut last_error = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                stream = Some(tcp);
                break;
            }
            Err(err) => last_error = Some(err),
        }
    }
    let Some(tcp) = stream else {
        return Err(last_error.map(Error::Connect).unwrap_or(Error::ConnectionRefused));
    };
    if !target.https {
        return Ok(Box::new(tcp));
    }
    let name = match target.host.parse::<std::net::IpAddr>() {
        Ok(ip) => rustls::pki_types::ServerName::from(ip),
        Err(_) => {
            rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|_| Error::HttpRequestUriInvalid)?
        }
    };
    let tls = tokio_rustls::TlsConnector::from(network.tls.clone()).connect(name, tcp).await.map_err(Error::Tls)?;
    Ok(Box::new(tls))
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// What a response body holds of its request: the call's slot (given back once the body is done)
/// and the in-flight count (until the body is dropped).
struct RequestParts {
    slot: Option<OwnedSemaphorePermit>,
    _tracked: Arc<Tracked>,
}

/// A response body that fails once more than `limit` bytes arrived, or when the next bytes take
/// longer than the between-bytes limit (clamped to the call's deadline).
struct CappedBody {
    inner: hyper::body::Incoming,
    received: u64,
    limit: u64,
    between_bytes: Option<Duration>,
    deadline: Instant,
    timer: Pin<Box<tokio::time::Sleep>>,
    timer_phase: Phase,
    violations: Violations,
    finished: bool,
    request: RequestParts,
}

impl CappedBody {
    fn new(
        inner: hyper::body::Incoming,
        limit: u64,
        between_bytes: Option<Duration>,
        deadline: Instant,
        violations: Violations,
        request: RequestParts,
    ) -> CappedBody {
        let phase = Phase::new(between_bytes, deadline);
        CappedBody {
            inner,
            received: 0,
            limit,
            between_bytes,
            deadline,
            timer: Box::pin(tokio::time::sleep(phase.limit)),
            timer_phase: phase,
            violations,
            finished: false,
            request,
        }
    }

    /// The body is done: its request no longer takes one of the call's slots.
    fn finish(&mut self) {
        self.finished = true;
        self.request.slot = None;
    }

    fn fail(&mut self, error: Error) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.finish();
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(err))) => {
                let error = if err.is_timeout() { Error::HttpResponseTimeout } else { Error::from(err) };
                this.fail(error)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    if this.received > this.limit {
                        this.violations.record(Violation::ResponseTooLarge { limit: this.limit });
                        return this.fail(Error::HttpResponseBodySize(Some(this.limit)));
                    }
                }
                this.timer_phase = Phase::new(this.between_bytes, this.deadline);
                this.timer.as_mut().reset(tokio::time::Instant::now() + this.timer_phase.limit);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                if this.timer_phase.by_budget {
                    this.violations.record(Violation::BudgetExhausted);
                }
                this.fail(Error::ConnectionReadTimeout)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
