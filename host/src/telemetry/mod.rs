//! Operations: logs ([`logs`]), Prometheus metrics ([`metrics`]), error tracking ([`sentry`]) and
//! OpenTelemetry traces ([`otel`]).

pub mod live_metrics;
pub mod logs;
pub mod metrics;
pub mod otel;
pub mod sentry;
pub mod turn_metrics;

use std::future::Future;
use std::sync::Arc;

pub use logs::init_logging;
use tracing::Instrument;

/// What a chat turn carries on its own, since it outlives its request and runs on other threads:
/// a `turn` span (its log lines name the request, the user and the session) and, with Sentry on,
/// its own hub (its errors name the user and the request).
pub struct TurnContext {
    span: tracing::Span,
    hub: Option<Arc<::sentry::Hub>>,
}

impl TurnContext {
    pub fn new(request_id: &str, user_id: &str) -> TurnContext {
        let hub = sentry::turn_hub(user_id, request_id);
        // Sentry's tracing layer reports a span's events to the hub current when the span was
        // created: create it within the turn's hub.
        let span = match &hub {
            Some(hub) => ::sentry::Hub::run(hub.clone(), || logs::turn_span(request_id, user_id)),
            None => logs::turn_span(request_id, user_id),
        };
        // In the trace, the turn is the request's child (and so in a client's trace).
        otel::set_parent(&span, &tracing::Span::current());
        TurnContext { span, hub }
    }

    /// `turn`, run within the span and the hub.
    pub fn run<F: Future>(self, turn: F) -> impl Future<Output = F::Output> {
        sentry::within(self.hub, turn.instrument(self.span))
    }
}
