//! The host calls of `crate::host` and `http`'s exchange on the native target, answered from the
//! [`MockHost`](super::MockHost) installed for the current thread (each test runs on its own).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::scripted::{Recorded, Script, method_name};
use crate::host::{LogLevel, RateLimitDecision, WorkoutMatch};
use crate::http::url::Url;
use crate::http::{HttpError, Method, Response};

thread_local! {
    static CURRENT: RefCell<Option<Rc<RefCell<Script>>>> = const { RefCell::new(None) };
}

/// Removes the installed host when the call ends, even by a panic.
pub(crate) struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().take());
    }
}

pub(crate) fn install(script: Rc<RefCell<Script>>) -> Installed {
    CURRENT.with(|current| *current.borrow_mut() = Some(script));
    Installed
}

fn with<R>(f: impl FnOnce(&mut Script) -> R) -> R {
    let script = CURRENT.with(|current| current.borrow().clone()).expect(
        "no host on the native target: run plugin functions through amakaflow_tool_sdk::testing::MockHost::call",
    );
    let mut script = script.borrow_mut();
    f(&mut script)
}

pub(crate) fn log(level: LogLevel, message: &str) {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    with(|s| s.logs.push(format!("{level}: {message}")));
}

pub(crate) fn config(key: &str) -> Option<String> {
    with(|s| s.config.get(key).cloned())
}

pub(crate) fn state_get(key: &str) -> Option<String> {
    with(|s| s.state.get(key).cloned())
}

pub(crate) fn state_put(key: &str, value: &str, _ttl_seconds: u32) -> Result<(), String> {
    with(|s| s.state.insert(key.to_string(), value.to_string()));
    Ok(())
}

pub(crate) fn state_take(key: &str) -> Option<String> {
    with(|s| s.state.remove(key))
}

pub(crate) fn state_delete(key: &str) {
    with(|s| s.state.remove(key));
}

pub(crate) fn rate_limit_hour(bucket: &str, limit_per_hour: u32) -> RateLimitDecision {
    with(|s| {
        let count = s.rate_limits.entry(bucket.to_string()).or_insert(0);
        let allowed = *count < limit_per_hour;
        if allowed {
            *count += 1;
        }
        RateLimitDecision { allowed, count: *count, limit: limit_per_hour, retry_after_seconds: 1800 }
    })
}

pub(crate) fn feature_flag(key: &str) -> Option<String> {
    with(|s| s.flags.get(key).cloned())
}

pub(crate) fn search_workouts(
    _embedding: &[f32],
    limit: u32,
    min_similarity: f32,
) -> Result<Vec<WorkoutMatch>, String> {
    with(|s| Ok(s.workouts.iter().filter(|w| w.similarity >= min_similarity).take(limit as usize).cloned().collect()))
}

pub(crate) fn indexed_workout_count() -> u32 {
    with(|s| s.workouts.len() as u32)
}

/// One HTTP exchange: recorded, then answered by the next scripted one if it is for this method
/// and URL (anything else fails the test, naming what was expected).
pub(crate) fn exchange(
    method: Method,
    url: &Url,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    _timeout: Duration,
    max_response_bytes: usize,
) -> Result<Response, HttpError> {
    let url = url.to_string();
    let expected = with(|s| {
        s.requests.push(Recorded {
            method,
            url: url.clone(),
            headers: headers.to_vec(),
            body: body.map(<[u8]>::to_vec),
        });
        s.exchanges.pop_front()
    });
    let request = format!("{} {url}", method_name(method));
    let Some(expected) = expected else { panic!("unexpected request (none scripted): {request}") };
    let scripted = format!("{} {}", method_name(expected.method), expected.url);
    assert_eq!(request, scripted, "the plugin's request is not the next scripted one");
    let response = expected.answer.0?;
    if response.body.len() > max_response_bytes {
        return Err(HttpError::TooLarge);
    }
    Ok(response)
}
