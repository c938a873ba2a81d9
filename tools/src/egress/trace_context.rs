//! The host's trace context on the plugins' requests: a hook the host passes in (the tools crate
//! knows nothing of OpenTelemetry) giving the W3C `traceparent` of the current span, which
//! [`super::hooks::EgressHooks`] sets on every request a plugin sends, inside that request's
//! `egress` span.

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;

/// Gives the `traceparent` of the current span (`None`: no trace, the request is left as it is).
#[derive(Clone)]
pub struct TraceContextHook(Arc<dyn Fn() -> Option<HeaderValue> + Send + Sync>);

impl TraceContextHook {
    pub fn new(traceparent: impl Fn() -> Option<HeaderValue> + Send + Sync + 'static) -> TraceContextHook {
        TraceContextHook(Arc::new(traceparent))
    }

    /// The current span's `traceparent`.
    pub fn traceparent(&self) -> Option<HeaderValue> {
        (self.0)()
    }
}

impl fmt::Debug for TraceContextHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TraceContextHook")
    }
}
