//! Bad input at every endpoint that takes a body or parameters, through the real service over
//! HTTP. Each is a 4xx whose JSON `detail` says what is wrong, in the original's FastAPI shapes
//! (`{"detail": [{"loc", "msg", "type"}]}` for a request that does not fit its schema, `{"detail":
//! "…"}` otherwise), never a 500; and nothing is spent or half-written: no quota unit, no session
//! or message row, no Claude call, no embedding, no plugin file. Scenarios that touch storage run
//! on SQLite and on the local Postgres.
//!
//! One module per area: the chat stream's body ([`chat`]), the internal embeddings endpoints
//! ([`embeddings`]) and the plugin admin API ([`plugin_admin`]); the service and the reading of a
//! refusal they share are here.

mod chat;
mod embeddings;
mod plugin_admin;

use std::time::Duration;

use end_to_end::server::{TestServer, as_test_user, read_json};
use end_to_end::sse_client::{SseTranscript, read_stream};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use stand_ins::anthropic::StandIn;
use stand_ins::openai::OpenAiStandIn;
use store::testing::TestDatabase;
use store::{Backend, Period};

const INTERNAL_KEY: &str = "bad-input-internal-key";
const ADMIN_KEY: &str = "bad-input-admin-key";
const JSON: &str = "application/json";

/// The service, with the scripted dev model standing in for Claude (it answers any message) and an
/// OpenAI stand-in for the embeddings.
struct Service {
    server: TestServer,
    anthropic: StandIn,
    openai: OpenAiStandIn,
}

impl Service {
    async fn start(backend: Backend, extra: &[(&str, &str)]) -> Service {
        let anthropic = StandIn::dev_model().await;
        let openai = OpenAiStandIn::start().await;
        let (anthropic_url, openai_url, openai_key) = (anthropic.url(), openai.url(), openai.api_key());
        let mut vars = vec![
            ("ANTHROPIC_BASE_URL", anthropic_url.as_str()),
            ("ANTHROPIC_API_KEY", "sk-ant-bad-input-suite"),
            ("OPENAI_BASE_URL", openai_url.as_str()),
            ("OPENAI_API_KEY", openai_key.as_str()),
            ("INTERNAL_API_KEY", INTERNAL_KEY),
            ("ADMIN_API_KEY", ADMIN_KEY),
        ];
        vars.extend_from_slice(extra);
        let db = TestDatabase::new(backend).await.expect("test database");
        let server = TestServer::start(&vars, db).await.expect("server starts");
        Service { server, anthropic, openai }
    }

    fn max_body(&self) -> usize {
        self.server.state.config.server.max_body_bytes
    }

    /// `POST /chat/stream` as `user` with `body` as is, under `content_type` (none if `None`).
    fn chat_request(
        &self,
        user: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::RequestBuilder {
        let request = as_test_user(self.server.client().post(self.server.url("/chat/stream")), user).body(body);
        match content_type {
            Some(content_type) => request.header(CONTENT_TYPE, content_type),
            None => request,
        }
    }

    async fn chat_refused(&self, user: &str, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> Refusal {
        Refusal::of(self.chat_request(user, content_type, body)).await
    }

    async fn chat(&self, user: &str, body: Value) -> SseTranscript {
        read_stream(self.chat_request(user, Some(JSON), body.to_string()), Duration::from_secs(30))
            .await
            .expect("stream")
    }

    /// A request to an `/internal` route with the internal key, or to an `/admin` route with the
    /// admin key.
    fn keyed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.server.client().request(method, self.server.url(path));
        if path.starts_with("/admin") {
            request.header("X-Admin-Key", ADMIN_KEY)
        } else {
            request.header("X-Internal-Key", INTERNAL_KEY)
        }
    }

    async fn keyed_post(&self, path: &str, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> Refusal {
        let request = self.keyed(reqwest::Method::POST, path).body(body);
        Refusal::of(match content_type {
            Some(content_type) => request.header(CONTENT_TYPE, content_type),
            None => request,
        })
        .await
    }

    /// What `user` has spent and left behind: quota units counted this month, and sessions (every
    /// message row belongs to one).
    async fn footprint(&self, user: &str) -> (i64, usize) {
        let store = self.server.store();
        let usage = store.message_usage(user, Period::of(chrono::Utc::now())).await.expect("usage");
        (usage, store.list_sessions(user, 200, 0).await.expect("sessions").len())
    }
}

/// A refused request: its status and JSON body.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    body: Value,
}

impl Refusal {
    async fn of(request: reqwest::RequestBuilder) -> Refusal {
        let (status, body) = read_json(request.send().await.expect("a response")).await;
        assert!(status.is_client_error(), "a 4xx, got {status}: {body}");
        Refusal { status, body }
    }

    /// A schema refusal (422) of the first problem at `loc`, of type `kind`; returns its message.
    fn invalid(&self, case: &str, loc: &[&str], kind: &str) -> String {
        assert_eq!(self.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {}", self.body);
        let detail = &self.body["detail"][0];
        assert_eq!(detail["loc"], json!(loc), "{case}: {}", self.body);
        assert_eq!(detail["type"], kind, "{case}: {}", self.body);
        let message = detail["msg"].as_str().unwrap_or_else(|| panic!("{case}: no msg in {}", self.body));
        assert!(!message.is_empty(), "{case}");
        message.to_string()
    }

    /// A plain refusal: `status` and a `detail` string; returns it.
    fn plain(&self, case: &str, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{case}: {}", self.body);
        self.body["detail"].as_str().unwrap_or_else(|| panic!("{case}: no detail string in {}", self.body)).to_string()
    }
}

/// A JSON object with `message` padded by an unknown field to exactly `len` bytes.
fn padded_body(len: usize) -> Vec<u8> {
    let head = r#"{"message":"hi","pad":""#;
    let mut body = head.as_bytes().to_vec();
    body.resize(len - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

/// `{"message": "hi", "x": [[[…]]]}`: an unknown field nested `depth` arrays deep.
fn deeply_nested(depth: usize) -> String {
    format!(r#"{{"message": "hi", "x": {}{}}}"#, "[".repeat(depth), "]".repeat(depth))
}
