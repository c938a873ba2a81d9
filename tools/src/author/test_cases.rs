//! `plugin.tests.toml`, the test cases a plugin declares beside its manifest for
//! `chat-api plugins test`: for each case the function, its arguments, the HTTP exchanges the call
//! must make (with the origin's canned answers) and the expected result or error; and, optionally,
//! a file of the functions' expected descriptions and schemas. Parsing is strict (unknown keys are
//! errors naming them), so a typo never turns a check off.
//!
//! ```toml
//! schemas = "plugin.schemas.json"     # optional: `plugins test --write-schemas` writes it
//!
//! [[test]]
//! name = "details of one workout"
//! function = "get_workout_details"
//! arguments = { workout_id = "w1" }   # a TOML table, or JSON text in a string
//! user = "user_1"                     # the caller (default "test-user")
//! authorization = "Bearer t1"         # the caller's token, forwarded where the manifest says
//! result = '{"success": true}'        # the exact text; or result_json = { … } (equal as JSON);
//!                                     # or error = { code = "not_found", message = "…" } (message optional)
//!
//! [[test.http]]                       # in any order; each must be sent exactly once
//! method = "GET"
//! url = "${setting:MAPPER_API_URL}/workouts/w1"   # settings as the manifest sees them
//! headers = { authorization = "Bearer t1" }       # must be present with these values
//! # json = { … } or body = "…": the request body
//! [test.http.response]
//! status = 200                        # default 200
//! json = { id = "w1" }                # or body = "…"; headers = { … }
//! ```
//!
//! A `json` value (and `arguments`, `result_json`) that is a TOML string is read as JSON text, for
//! what TOML cannot say (`null`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use crate::egress::replay::{CannedResponse, Exchange, ExpectedBody};
use crate::plugin_values::PluginValues;

/// The file `plugins test` reads beside `plugin.toml`.
pub const TESTS_FILE: &str = "plugin.tests.toml";

/// The caller of a case that names none.
pub const DEFAULT_USER: &str = "test-user";

/// A parsed tests file.
#[derive(Debug)]
pub struct TestFile {
    /// The expected functions' descriptions and schemas, when the file names one.
    pub schemas: Option<PathBuf>,
    pub cases: Vec<TestCase>,
}

/// One call and what it must do.
#[derive(Debug)]
pub struct TestCase {
    pub name: String,
    pub function: String,
    pub arguments: Value,
    pub user: String,
    pub authorization: Option<String>,
    pub expect: Expected,
    pub exchanges: Vec<Exchange>,
}

/// What a case's call must end with.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    Text(String),
    Json(Value),
    Error { code: String, message: Option<String> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    schemas: Option<String>,
    #[serde(default)]
    test: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    function: String,
    #[serde(default)]
    arguments: Option<toml::Value>,
    user: Option<String>,
    authorization: Option<String>,
    result: Option<String>,
    result_json: Option<toml::Value>,
    error: Option<RawError>,
    #[serde(default)]
    http: Vec<RawExchange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawError {
    code: String,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    json: Option<toml::Value>,
    body: Option<String>,
    #[serde(default)]
    response: RawResponse,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawResponse {
    status: Option<u16>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    json: Option<toml::Value>,
    body: Option<String>,
}

/// Reads and checks `path`; `settings` are the values `${setting:NAME}` in URLs and headers stand for.
pub fn read(path: &Path, settings: &PluginValues) -> Result<TestFile, String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    parse(&text, settings).map_err(|err| format!("{}: {err}", path.display()))
}

/// Parses the text of a tests file.
pub fn parse(text: &str, settings: &PluginValues) -> Result<TestFile, String> {
    let raw: RawFile = toml::from_str(text).map_err(|err| err.to_string())?;
    if raw.test.is_empty() {
        return Err("no [[test]] case".to_string());
    }
    let cases = raw.test.into_iter().map(|case| case_of(case, settings)).collect::<Result<_, _>>()?;
    Ok(TestFile { schemas: raw.schemas.map(PathBuf::from), cases })
}

fn case_of(raw: RawCase, settings: &PluginValues) -> Result<TestCase, String> {
    let name = raw.name;
    let at = |what: &str| format!("test {name:?}: {what}");
    let expect = match (raw.result, raw.result_json, raw.error) {
        (Some(text), None, None) => Expected::Text(text),
        (None, Some(json), None) => Expected::Json(json_of(json).map_err(|e| at(&format!("result_json: {e}")))?),
        (None, None, Some(error)) => Expected::Error { code: error.code, message: error.message },
        _ => return Err(at("exactly one of result, result_json or error is needed")),
    };
    let arguments = match raw.arguments {
        None => Value::Object(Default::default()),
        Some(value) => json_of(value).map_err(|e| at(&format!("arguments: {e}")))?,
    };
    let mut exchanges = Vec::new();
    for (index, http) in raw.http.into_iter().enumerate() {
        let at = |what: &str| at(&format!("http[{index}]: {what}"));
        let body = match (http.json, http.body) {
            (Some(json), None) => Some(ExpectedBody::Json(json_of(json).map_err(|e| at(&format!("json: {e}")))?)),
            (None, Some(text)) => Some(ExpectedBody::Text(text)),
            (None, None) => None,
            (Some(_), Some(_)) => return Err(at("json or body, not both")),
        };
        let url = interpolate(&http.url, settings).map_err(|e| at(&e))?;
        url.parse::<http::Uri>()
            .ok()
            .filter(|uri| uri.scheme().is_some() && uri.host().is_some())
            .ok_or_else(|| at(&format!("url {url:?} is not an absolute http(s) URL")))?;
        let headers = http
            .headers
            .into_iter()
            .map(|(name, value)| Ok((name.to_ascii_lowercase(), interpolate(&value, settings)?)))
            .collect::<Result<_, String>>()
            .map_err(|e| at(&e))?;
        let response = response_of(http.response).map_err(|e| at(&format!("response: {e}")))?;
        exchanges.push(Exchange { method: http.method.to_ascii_uppercase(), url, headers, body, response });
    }
    Ok(TestCase {
        function: raw.function,
        arguments,
        user: raw.user.unwrap_or_else(|| DEFAULT_USER.to_string()),
        authorization: raw.authorization,
        expect,
        exchanges,
        name,
    })
}

fn response_of(raw: RawResponse) -> Result<CannedResponse, String> {
    let mut headers: Vec<(String, String)> = raw.headers.into_iter().collect();
    let body = match (raw.json, raw.body) {
        (Some(json), None) => {
            if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
                headers.push(("content-type".into(), "application/json".into()));
            }
            Bytes::from(serde_json::to_vec(&json_of(json)?).map_err(|e| e.to_string())?)
        }
        (None, Some(text)) => Bytes::from(text),
        (None, None) => Bytes::new(),
        (Some(_), Some(_)) => return Err("json or body, not both".to_string()),
    };
    let status = raw.status.unwrap_or(200);
    http::StatusCode::from_u16(status).map_err(|_| format!("status {status} is not an HTTP status"))?;
    for (name, value) in &headers {
        http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
        http::HeaderValue::from_str(value).map_err(|_| format!("invalid value of header {name}"))?;
    }
    Ok(CannedResponse { status, headers, body })
}

/// A TOML value as JSON; a string is JSON text.
fn json_of(value: toml::Value) -> Result<Value, String> {
    match value {
        toml::Value::String(text) => serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}")),
        other => serde_json::to_value(other).map_err(|e| e.to_string()),
    }
}

/// Replaces `${setting:NAME}` and `${setting:NAME:-fallback}` with the settings' values.
fn interpolate(text: &str, settings: &PluginValues) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${setting:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "${setting:".len()..];
        let end = after.find('}').ok_or_else(|| format!("unclosed ${{setting:…}} in {text:?}"))?;
        let (name, fallback) = match after[..end].split_once(":-") {
            Some((name, fallback)) => (name, Some(fallback)),
            None => (&after[..end], None),
        };
        let value = settings.settings.get(name).map(String::as_str).or(fallback);
        out.push_str(value.ok_or_else(|| format!("setting {name} is not set"))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PluginValues {
        let mut values = PluginValues::default();
        values.settings.insert("MAPPER_API_URL".into(), "http://localhost:8001".into());
        values
    }

    #[test]
    fn a_case_reads_with_its_exchanges() {
        let file = parse(
            r#"
            schemas = "plugin.schemas.json"
            [[test]]
            name = "details"
            function = "get_workout_details"
            arguments = { workout_id = "w1" }
            authorization = "Bearer t"
            result_json = '{"success": true, "note": null}'
            [[test.http]]
            method = "get"
            url = "${setting:MAPPER_API_URL}/workouts/w1?x=${setting:MISSING:-1}"
            headers = { Authorization = "Bearer t" }
            [test.http.response]
            json = { id = "w1" }
            "#,
            &settings(),
        )
        .unwrap();
        assert_eq!(file.schemas, Some(PathBuf::from("plugin.schemas.json")));
        let case = &file.cases[0];
        assert_eq!(
            (case.user.as_str(), case.arguments.clone()),
            (DEFAULT_USER, serde_json::json!({"workout_id": "w1"}))
        );
        assert_eq!(case.expect, Expected::Json(serde_json::json!({"success": true, "note": null})));
        let exchange = &case.exchanges[0];
        assert_eq!((exchange.method.as_str(), exchange.url.as_str()), ("GET", "http://localhost:8001/workouts/w1?x=1"));
        assert_eq!(exchange.headers, [("authorization".to_string(), "Bearer t".to_string())]);
        assert_eq!(exchange.response.status, 200);
        assert_eq!(exchange.response.body, Bytes::from_static(br#"{"id":"w1"}"#));
    }

    #[test]
    fn mistakes_are_named() {
        let case = |extra: &str| format!("[[test]]\nname = \"n\"\nfunction = \"f\"\n{extra}");
        for (text, needle) in [
            (case("result = \"a\"\nerror = { code = \"x\" }"), "exactly one of"),
            (case("result = \"a\"\ncolour = 1"), "unknown field `colour`"),
            (case("result = \"a\"\n[[test.http]]\nmethod = \"GET\"\nurl = \"/relative\""), "not an absolute"),
            (case("result = \"a\"\n[[test.http]]\nmethod = \"GET\"\nurl = \"${setting:NOPE}/a\""), "NOPE is not set"),
            (case("arguments = '{bad'\nresult = \"a\""), "arguments: not JSON"),
            ("schemas = \"x\"".to_string(), "no [[test]] case"),
        ] {
            let err = parse(&text, &settings()).unwrap_err();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
