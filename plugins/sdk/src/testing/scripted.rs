//! The scripted host: what a test sets up (config, state, flags, indexed workouts, HTTP answers in
//! order) and what it can inspect afterwards (requests made, state left, log lines).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use serde_json::Value;

use super::host_calls;
use crate::host::WorkoutMatch;
use crate::http::{HttpError, Method, Response};
use crate::{Context, Plugin, ToolError};

/// The answer a scripted exchange gives: a response, or a failure such as [`HttpError::Timeout`].
#[derive(Clone, Debug)]
pub struct Answer(pub(crate) Result<Response, HttpError>);

impl Answer {
    /// A response with a JSON body.
    pub fn json(status: u16, body: Value) -> Answer {
        Answer::body(status, "application/json", body.to_string().into_bytes())
    }

    /// A response with a text body.
    pub fn text(status: u16, body: impl Into<String>) -> Answer {
        Answer::body(status, "text/plain", body.into().into_bytes())
    }

    /// A failure instead of a response (the request timed out, was refused, …).
    pub fn error(err: HttpError) -> Answer {
        Answer(Err(err))
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        if let Ok(response) = &mut self.0 {
            response.headers.push((name.to_ascii_lowercase(), value.to_string()));
        }
        self
    }

    fn body(status: u16, content_type: &str, body: Vec<u8>) -> Answer {
        Answer(Ok(Response { status, headers: vec![("content-type".into(), content_type.into())], body }))
    }
}

/// One request the plugin made, as it would have left the sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub method: Method,
    /// The full URL, query included.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Recorded {
    /// The body parsed as JSON (panics when there is none or it is not JSON: a test failure).
    pub fn json(&self) -> Value {
        let body =
            self.body.as_deref().unwrap_or_else(|| panic!("{} {} has no body", method_name(self.method), self.url));
        serde_json::from_slice(body)
            .unwrap_or_else(|err| panic!("{} {}: body is not JSON: {err}", method_name(self.method), self.url))
    }

    /// The body as text (empty when there is none).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.body.as_deref().unwrap_or_default()).into_owned()
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An exchange the plugin is expected to make next.
pub(crate) struct Expected {
    pub method: Method,
    pub url: String,
    pub answer: Answer,
}

/// Everything the scripted host knows; shared with the host calls while a call runs.
#[derive(Default)]
pub(crate) struct Script {
    pub config: HashMap<String, String>,
    pub flags: HashMap<String, String>,
    pub state: BTreeMap<String, String>,
    /// Calls counted so far per rate-limit bucket.
    pub rate_limits: HashMap<String, u32>,
    pub workouts: Vec<WorkoutMatch>,
    pub exchanges: VecDeque<Expected>,
    pub requests: Vec<Recorded>,
    pub logs: Vec<String>,
}

/// A host for native unit tests of plugin functions. Build it with what the plugin should find,
/// run functions with [`MockHost::call`] (state carries over from one call to the next, as it does
/// on the real host), then look at what they did. A request that is not the next scripted one, or
/// a scripted one never made ([`MockHost::assert_all_answered`]), fails the test naming both.
pub struct MockHost {
    script: Rc<RefCell<Script>>,
    user_id: String,
}

impl Default for MockHost {
    fn default() -> MockHost {
        MockHost::new()
    }
}

impl MockHost {
    /// An empty host; calls are made for the user `user_test`.
    pub fn new() -> MockHost {
        MockHost { script: Rc::default(), user_id: "user_test".to_string() }
    }

    /// Calls are made for `user_id`.
    pub fn user(mut self, user_id: &str) -> MockHost {
        self.user_id = user_id.to_string();
        self
    }

    /// A `[config]` value of the manifest.
    pub fn config(self, key: &str, value: &str) -> MockHost {
        self.script.borrow_mut().config.insert(key.to_string(), value.to_string());
        self
    }

    /// A feature flag of the calling user.
    pub fn flag(self, key: &str, value: Value) -> MockHost {
        self.script.borrow_mut().flags.insert(key.to_string(), value.to_string());
        self
    }

    /// A value already in the plugin's state (expiry is not modelled).
    pub fn state(self, key: &str, value: &str) -> MockHost {
        self.script.borrow_mut().state.insert(key.to_string(), value.to_string());
        self
    }

    /// Calls of a rate-limit bucket already counted this hour.
    pub fn rate_limit_used(self, bucket: &str, calls: u32) -> MockHost {
        self.script.borrow_mut().rate_limits.insert(bucket.to_string(), calls);
        self
    }

    /// The user's indexed workouts; `index::search` returns them in this order (best first), up
    /// to its limit and above its minimum similarity.
    pub fn indexed(self, workouts: Vec<WorkoutMatch>) -> MockHost {
        self.script.borrow_mut().workouts = workouts;
        self
    }

    /// The next request the plugin must make (method and full URL, query included), and its answer.
    pub fn expect(self, method: Method, url: &str, answer: Answer) -> MockHost {
        self.script.borrow_mut().exchanges.push_back(Expected { method, url: url.to_string(), answer });
        self
    }

    /// Runs `function` of `plugin` with `arguments`, as the host's `call` export would (the schema
    /// check the host does first is the test's to make: see [`assert_schemas_match`](super::assert_schemas_match)).
    pub fn call(&self, plugin: &Plugin, function: &str, arguments: Value) -> Result<String, ToolError> {
        let ctx = Context::for_tests(&self.user_id, function);
        let _installed = host_calls::install(self.script.clone());
        plugin.run(&ctx, &arguments.to_string())
    }

    /// Every request made so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.script.borrow().requests.clone()
    }

    /// The plugin's state value under `key`, if any.
    pub fn state_value(&self, key: &str) -> Option<String> {
        self.script.borrow().state.get(key).cloned()
    }

    /// The plugin's state keys.
    pub fn state_keys(&self) -> Vec<String> {
        self.script.borrow().state.keys().cloned().collect()
    }

    /// The log lines written so far, as `<level>: <message>`.
    pub fn logs(&self) -> Vec<String> {
        self.script.borrow().logs.clone()
    }

    /// Fails the test when a scripted exchange was never made.
    pub fn assert_all_answered(&self) {
        let script = self.script.borrow();
        let left: Vec<String> =
            script.exchanges.iter().map(|e| format!("{} {}", method_name(e.method), e.url)).collect();
        assert!(left.is_empty(), "scripted requests never made: {left:?}");
    }
}

pub(crate) fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Head => "HEAD",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::prelude::*;

    #[derive(Deserialize, JsonSchema)]
    struct Fetch {
        url: String,
    }

    fn fetch(_ctx: &Context, args: Fetch) -> Result<String, ToolError> {
        Ok(http::get(args.url).max_response_bytes(16).send()?.error_for_status()?.text())
    }

    fn remember(_ctx: &Context, args: Fetch) -> Result<String, ToolError> {
        let before = state::take("last").unwrap_or_default();
        state::put("last", &args.url, Duration::from_secs(60))?;
        log::info(&format!("was {before:?}"));
        Ok(before)
    }

    fn plugin() -> Plugin {
        Plugin::new().function("fetch", "Fetches a URL.", fetch).function("remember", "Swaps a value.", remember)
    }

    #[test]
    fn answers_in_order_and_records_each_request() {
        let host = MockHost::new().expect(Method::Get, "http://a.test/1", Answer::text(200, "one")).expect(
            Method::Get,
            "http://a.test/2?q=x",
            Answer::text(200, "two").header("X-Trace", "t"),
        );
        assert_eq!(host.call(&plugin(), "fetch", json!({"url": "http://a.test/1"})).unwrap(), "one");
        assert_eq!(host.call(&plugin(), "fetch", json!({"url": "http://a.test/2?q=x"})).unwrap(), "two");
        let urls: Vec<String> = host.requests().into_iter().map(|r| r.url).collect();
        assert_eq!(urls, ["http://a.test/1", "http://a.test/2?q=x"]);
        host.assert_all_answered();
    }

    #[test]
    fn failures_and_oversized_answers_read_as_on_the_real_host() {
        let host = MockHost::new()
            .expect(Method::Get, "http://a.test/", Answer::error(HttpError::Connect("refused".into())))
            .expect(Method::Get, "http://a.test/", Answer::text(200, "x".repeat(17)));
        let err = host.call(&plugin(), "fetch", json!({"url": "http://a.test/"})).unwrap_err();
        assert_eq!(err.message, "Unable to connect to the service.");
        let err = host.call(&plugin(), "fetch", json!({"url": "http://a.test/"})).unwrap_err();
        assert_eq!(err.message, "The service's response was too large.");
    }

    #[test]
    #[should_panic(expected = "unexpected request (none scripted): GET http://a.test/")]
    fn an_unscripted_request_fails_the_test() {
        let _ = MockHost::new().call(&plugin(), "fetch", json!({"url": "http://a.test/"}));
    }

    #[test]
    #[should_panic(expected = "not the next scripted one")]
    fn a_request_other_than_the_scripted_one_fails_the_test() {
        let host = MockHost::new().expect(Method::Post, "http://a.test/", Answer::text(200, ""));
        let _ = host.call(&plugin(), "fetch", json!({"url": "http://a.test/"}));
    }

    #[test]
    #[should_panic(expected = "scripted requests never made: [\"GET http://a.test/\"]")]
    fn a_scripted_request_never_made_fails_the_test() {
        MockHost::new().expect(Method::Get, "http://a.test/", Answer::text(200, "")).assert_all_answered();
    }

    #[test]
    fn state_and_logs_carry_over_from_call_to_call() {
        let host = MockHost::new().state("last", "seed");
        assert_eq!(host.call(&plugin(), "remember", json!({"url": "u1"})).unwrap(), "seed");
        assert_eq!(host.call(&plugin(), "remember", json!({"url": "u2"})).unwrap(), "u1");
        assert_eq!(host.state_value("last").as_deref(), Some("u2"));
        assert_eq!(host.logs(), ["info: was \"seed\"", "info: was \"u1\""]);
    }

    #[test]
    #[should_panic(expected = "no host on the native target")]
    fn host_calls_outside_a_mock_host_say_how_to_test() {
        let _ = plugin().run(&Context::for_tests("u", "remember"), r#"{"url": "u"}"#);
    }
}
