//! Logs through `tracing`: JSON lines in production (`LOG_JSON`, on by default there), compact text
//! in development; the filter from `RUST_LOG`. Every request runs in a `request` span carrying its
//! `x-request-id` (made by the API layer), and every chat turn in a `turn` span carrying the same id, so each line of a turn
//! (tool calls and Anthropic calls included) names the request it belongs to. JSON lines list
//! their spans under `spans`.
//!
//! Nothing secret is logged: request spans name the route, never headers or bodies; the Anthropic
//! client redacts keys from upstream messages; a test drives a whole turn and checks the output.

use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

use crate::config::Config;

/// Installs the global subscriber writing to stdout; later calls (tests building several apps) are
/// no-ops.
pub fn init_logging(config: &Config) {
    init_logging_to(config, std::io::stdout);
}

/// [`init_logging`] with another destination (tests capture the real format in memory).
pub fn init_logging_to<W>(config: &Config, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // The filter when `RUST_LOG` is unset: its default in the variable catalogue.
        EnvFilter::new(crate::config::default_value("RUST_LOG", config.environment).unwrap_or_default())
    });
    // Breadcrumbs and error events for Sentry, only when it is configured.
    let sentry = config.telemetry.sentry_dsn.is_some().then(sentry::integrations::tracing::layer);
    // OpenTelemetry spans, only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    let otel = crate::telemetry::otel::layer(config);
    let registry = tracing_subscriber::registry().with(filter).with(sentry).with(otel);
    let _ = if config.telemetry.json_logs {
        let format = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(writer);
        registry.with(format).try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer().compact().with_writer(writer)).try_init()
    };
}

/// Records the authenticated user on the current request span.
pub fn record_user(user_id: &str) {
    Span::current().record("user_id", user_id);
}

/// The span a chat turn runs in. The turn outlives its request, so it is a root span that only
/// follows from the request's; the session is recorded once known.
pub fn turn_span(request_id: &str, user_id: &str) -> Span {
    let span = tracing::info_span!(parent: None, "turn", request_id, user_id, session_id = tracing::field::Empty);
    span.follows_from(Span::current());
    span
}
