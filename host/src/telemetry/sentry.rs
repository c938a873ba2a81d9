//! Error tracking with Sentry (`SENTRY_DSN`; nothing is sent without it): environment and release
//! (`RENDER_GIT_COMMIT`), 10 % of requests traced, the user's id on every event of their requests
//! and turns (never a token, an email or an address), Anthropic failures with Anthropic's
//! `request-id`, and a `before_send` that scrubs anything secret-looking from every event and
//! breadcrumb before it leaves the process.

use std::future::Future;
use std::sync::{Arc, LazyLock};

use futures::future::Either;
use regex::Regex;
use sentry::protocol::{Breadcrumb, Event, User};
use sentry::{ClientInitGuard, ClientOptions, Hub, SentryFutureExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Config;
use crate::llm::LlmError;

/// What replaces a scrubbed value (Sentry's own marker).
const FILTERED: &str = "[Filtered]";

/// Starts the Sentry client when `SENTRY_DSN` is set. Keep the guard for the life of the process:
/// dropping it flushes queued events and closes the client.
///
/// Call it before other threads touch Sentry (in `main`, before the async runtime starts): every
/// thread's hub is a copy of the process hub taken on first use.
pub fn init(config: &Config) -> Option<ClientInitGuard> {
    let dsn = config.telemetry.sentry_dsn.as_ref()?.expose().parse().ok()?;
    let scrubber = Arc::new(Scrubber::new(config.secret_values()));
    let for_breadcrumbs = scrubber.clone();
    let guard = sentry::init(ClientOptions {
        dsn: Some(dsn),
        environment: Some(config.environment.as_str().to_string().into()),
        release: config.telemetry.release.clone().map(Into::into),
        traces_sample_rate: config.telemetry.traces_sample_rate,
        send_default_pii: false,
        before_send: Some(Arc::new(move |event| scrubber.event(event))),
        before_breadcrumb: Some(Arc::new(move |crumb| for_breadcrumbs.scrub::<Breadcrumb>(crumb))),
        ..Default::default()
    });
    // `init` binds the client to the calling thread's hub; threads started later copy the process
    // hub, so it must have the client too (it is the same hub when called on the main thread).
    let main = Hub::main();
    if main.client().is_none() {
        main.bind_client(Hub::current().client());
    }
    Some(guard)
}

/// Whether events would be sent (a client is bound and enabled).
fn active(hub: &Hub) -> bool {
    hub.client().is_some_and(|client| client.is_enabled())
}

/// Sets the authenticated user on the current request's scope (its own hub, from the tower layer):
/// only the id.
pub fn set_user(user_id: &str) {
    sentry::configure_scope(|scope| scope.set_user(Some(user(user_id))));
}

fn user(user_id: &str) -> User {
    User { id: Some(user_id.to_string()), ..Default::default() }
}

/// The hub of a chat turn: forked from the request's (which holds the request's details), with
/// the user and the request id. The turn outlives the request and runs on other threads. `None`
/// when Sentry is off.
pub fn turn_hub(user_id: &str, request_id: &str) -> Option<Arc<Hub>> {
    let current = Hub::current();
    if !active(&current) {
        return None;
    }
    let hub = Arc::new(Hub::new_from_top(current));
    hub.configure_scope(|scope| {
        scope.set_user(Some(user(user_id)));
        scope.set_tag("request_id", request_id);
    });
    Some(hub)
}

/// Runs `future` within `hub`, if any.
pub fn within<F: Future>(hub: Option<Arc<Hub>>, future: F) -> impl Future<Output = F::Output> {
    match hub {
        Some(hub) => Either::Left(future.bind_hub(hub)),
        None => Either::Right(future),
    }
}

/// `future`, to run in a task of its own as part of the current work (a tool call of a turn): its
/// errors go to the current hub, with the turn's user and request.
pub fn with_current_hub<F: Future>(future: F) -> impl Future<Output = F::Output> {
    future.bind_hub(Hub::current())
}

/// Reports a Claude call that failed for good, tagged with Anthropic's `request-id` (what their
/// support asks for) and the error kind.
pub fn capture_upstream_error(err: &LlmError) {
    if !active(&Hub::current()) {
        return;
    }
    sentry::with_scope(
        |scope| {
            scope.set_tag("upstream", "anthropic");
            scope.set_tag("error_kind", err.kind());
            if let Some(id) = err.request_id() {
                scope.set_tag("anthropic_request_id", id);
            }
        },
        || sentry::capture_error(err),
    );
}

/// Removes secrets from what is sent: configured secret values wherever they appear, the values
/// of secret-named fields (headers such as `Authorization`, `X-Internal-Key`, …), and anything
/// shaped like a bearer token, a JWT, an API key or a URL password.
struct Scrubber {
    secrets: Vec<String>,
}

/// Secret-looking text, with what replaces it.
static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"(?i)\bbearer\s+[^\s,;]+", "Bearer [Filtered]"),
        (r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", FILTERED),
        (r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{12,}", FILTERED),
        (r"(://[^:/@\s]+:)[^@\s/]+@", "${1}[Filtered]@"),
    ]
    .into_iter()
    .map(|(pattern, replacement)| (Regex::new(pattern).expect("a valid pattern"), replacement))
    .collect()
});

/// Parts of field names that mark the value as secret.
const SECRET_NAMES: &[&str] = &[
    "authorization",
    "api_key",
    "apikey",
    "secret",
    "password",
    "passwd",
    "token",
    "cookie",
    "internal_key",
    "test_auth",
    "dsn",
    "credential",
];

impl Scrubber {
    fn new(secrets: Vec<String>) -> Scrubber {
        Scrubber { secrets }
    }

    /// A scrubbed event, keeping only the user's id.
    fn event(&self, mut event: Event<'static>) -> Option<Event<'static>> {
        if let Some(user) = event.user.take() {
            event.user = user.id.map(|id| User { id: Some(id), ..Default::default() });
        }
        self.scrub(event)
    }

    /// Scrubs any protocol value through its JSON form. A value that does not survive the round
    /// trip is dropped rather than sent unscrubbed.
    fn scrub<T: Serialize + DeserializeOwned>(&self, value: T) -> Option<T> {
        let mut json = serde_json::to_value(&value).ok()?;
        self.scrub_value(&mut json, false);
        serde_json::from_value(json).ok()
    }

    fn scrub_value(&self, value: &mut Value, secret_field: bool) {
        match value {
            Value::String(text) if secret_field && !text.is_empty() => *text = FILTERED.to_string(),
            Value::String(text) => {
                if let Some(clean) = self.scrub_text(text) {
                    *text = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.scrub_value(item, secret_field)),
            Value::Object(fields) => {
                for (name, field) in fields.iter_mut() {
                    self.scrub_value(field, secret_field || is_secret_name(name));
                }
            }
            _ => {}
        }
    }

    /// The text without secrets, or `None` when it had none.
    fn scrub_text(&self, text: &str) -> Option<String> {
        let mut clean = std::borrow::Cow::Borrowed(text);
        for secret in &self.secrets {
            if clean.contains(secret.as_str()) {
                clean = clean.replace(secret.as_str(), FILTERED).into();
            }
        }
        for (pattern, replacement) in PATTERNS.iter() {
            if let std::borrow::Cow::Owned(replaced) = pattern.replace_all(&clean, *replacement) {
                clean = replaced.into();
            }
        }
        match clean {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(clean) => Some(clean),
        }
    }
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    SECRET_NAMES.iter().any(|part| name.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::Request;

    #[test]
    fn secrets_are_scrubbed_from_every_part_of_an_event() {
        let scrubber = Scrubber::new(vec!["configured-internal-key".into()]);
        let mut event = Event {
            message: Some("call failed with key configured-internal-key and Bearer eyJabc.def".into()),
            user: Some(User {
                id: Some("user_1".into()),
                email: Some("a@example.com".into()),
                ip_address: Some(Default::default()),
                ..Default::default()
            }),
            request: Some(Request {
                headers: [
                    ("authorization".to_string(), "Bearer abc".to_string()),
                    ("X-Internal-Key".to_string(), "anything".to_string()),
                    ("x-request-id".to_string(), "req-1".to_string()),
                ]
                .into(),
                query_string: Some("dsn=https://u:hunter2@db.example.com/x".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        event.extra.insert("detail".into(), Value::String("key sk-ant-api03-abcdefghijklmnopqrstuvwxyz".into()));
        event.extra.insert("jwt".into(), Value::String("eyJhbGciOi.eyJzdWIiOiJ1.c2lnbmF0dXJl".into()));
        event.extra.insert("tokens_used".into(), Value::from(150));

        let clean = scrubber.event(event).expect("kept");
        let text = serde_json::to_string(&clean).unwrap();
        for secret in
            ["configured-internal-key", "eyJabc", "Bearer abc", "anything", "sk-ant-api03", "hunter2", "a@example.com"]
        {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(clean.user.unwrap().id.as_deref(), Some("user_1"));
        assert_eq!(clean.request.unwrap().headers["x-request-id"], "req-1");
        assert_eq!(clean.extra["tokens_used"], 150);
    }

    #[test]
    fn text_without_secrets_is_left_alone() {
        let scrubber = Scrubber::new(vec!["s3cr3t-value".into()]);
        assert_eq!(scrubber.scrub_text("Anthropic is overloaded (request req_123)"), None);
        assert_eq!(scrubber.scrub_text("token s3cr3t-value").as_deref(), Some("token [Filtered]"));
    }
}
