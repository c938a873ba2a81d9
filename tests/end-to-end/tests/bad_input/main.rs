//! Bad input at every endpoint that takes a body or parameters, through the real service over
//! HTTP. Each is a 4xx whose JSON `detail` says what is wrong, in the original's FastAPI shapes
//! (`{"detail": [{"loc", "msg", "type"}]}` for a request that does not fit its schema, `{"detail":
//! "…"}` otherwise), never a 500; and nothing is spent or half-written: no quota unit, no session
//! or message row, no Claude call, no embedding, no plugin file. Scenarios that touch storage run
//! on SQLite and on the local Postgres.

use base64::Engine as _;
use end_to_end::on_both_backends;
use end_to_end::plugins::PluginsDir;
use end_to_end::server::{TestServer, as_test_user, read_json};
use end_to_end::sse_client::{SseTranscript, read_stream};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use stand_ins::anthropic::StandIn;
use stand_ins::openai::OpenAiStandIn;
use std::time::Duration;
use store::testing::TestDatabase;
use store::{Backend, Period};

const INTERNAL_KEY: &str = "bad-input-internal-key";
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

    /// A request to an `/internal` or `/admin` route with the internal key.
    fn internal(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.server.client().request(method, self.server.url(path)).header("X-Internal-Key", INTERNAL_KEY)
    }

    async fn internal_post(&self, path: &str, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> Refusal {
        let request = self.internal(reqwest::Method::POST, path).body(body);
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

on_both_backends!(
    chat_bodies_that_break_a_rule_are_422_naming_the_field_and_spend_nothing,
    chat_requests_at_the_limits_are_served,
    chat_bodies_of_other_content_types_are_415_and_spend_nothing,
    chat_bodies_over_the_size_limit_are_413_and_spend_nothing,
    malformed_and_valid_requests_interleaved_count_only_the_valid,
    internal_embedding_bodies_are_checked_before_any_work,
);

async fn chat_bodies_that_break_a_rule_are_422_naming_the_field_and_spend_nothing(backend: Backend) {
    let s = Service::start(backend, &[]).await;
    let long = |n: usize| "é".repeat(n);
    let context = |ctx: Value| json!({"message": "hi", "context": ctx}).to_string();
    let import = |item: Value| context(json!({"pending_imports": [item]}));
    let url = "https://youtu.be/x";
    let cases: Vec<(&str, Vec<u8>, Vec<&str>, &str)> = vec![
        // Not JSON at all.
        ("unterminated", br#"{"message": "hi""#.to_vec(), vec!["body"], "json_invalid"),
        ("empty body", Vec::new(), vec!["body"], "json_invalid"),
        ("trailing comma", br#"{"message": "hi",}"#.to_vec(), vec!["body"], "json_invalid"),
        ("trailing garbage", br#"{"message": "hi"} {}"#.to_vec(), vec!["body"], "json_invalid"),
        ("invalid UTF-8", b"{\"message\": \"\xff\xfe\"}".to_vec(), vec!["body"], "json_invalid"),
        ("lone surrogate", br#"{"message": "\ud800"}"#.to_vec(), vec!["body"], "json_invalid"),
        // JSON, but not the request object.
        ("an array", b"[1, 2]".to_vec(), vec!["body"], "value_error"),
        ("the fields as an array", br#"["hi", null, null]"#.to_vec(), vec!["body"], "value_error"),
        ("a string", br#""hi""#.to_vec(), vec!["body"], "value_error"),
        ("a number", b"42".to_vec(), vec!["body"], "value_error"),
        ("null", b"null".to_vec(), vec!["body"], "value_error"),
        ("no message", b"{}".to_vec(), vec!["body", "message"], "missing"),
        ("another field name", br#"{"text": "hi"}"#.to_vec(), vec!["body", "message"], "missing"),
        ("message a number", br#"{"message": 42}"#.to_vec(), vec!["body", "message"], "value_error"),
        ("message null", br#"{"message": null}"#.to_vec(), vec!["body", "message"], "value_error"),
        ("message a list", br#"{"message": ["hi"]}"#.to_vec(), vec!["body", "message"], "value_error"),
        ("message twice", br#"{"message": "a", "message": "b"}"#.to_vec(), vec!["body", "message"], "value_error"),
        // The field rules of the original's ChatRequest.
        ("message empty", br#"{"message": ""}"#.to_vec(), vec!["body", "message"], "string_too_short"),
        ("message blank", br#"{"message": " \n\t "}"#.to_vec(), vec!["body", "message"], "string_too_short"),
        (
            "message of 10,001 characters",
            json!({"message": long(10_001)}).to_string().into_bytes(),
            vec!["body", "message"],
            "string_too_long",
        ),
        ("message with NUL", br#"{"message": "hi\u0000there"}"#.to_vec(), vec!["body", "message"], "value_error"),
        (
            "session_id a number",
            br#"{"message": "hi", "session_id": 42}"#.to_vec(),
            vec!["body", "session_id"],
            "value_error",
        ),
        (
            "session_id not a uuid",
            br#"{"message": "hi", "session_id": "not-a-uuid"}"#.to_vec(),
            vec!["body", "session_id"],
            "uuid_parsing",
        ),
        (
            "session_id a path",
            br#"{"message": "hi", "session_id": "../../etc/passwd"}"#.to_vec(),
            vec!["body", "session_id"],
            "uuid_parsing",
        ),
        (
            "session_id with SQL",
            br#"{"message": "hi", "session_id": "00000000-0000-0000-0000-000000000000' OR '1'='1"}"#.to_vec(),
            vec!["body", "session_id"],
            "uuid_parsing",
        ),
        ("context a string", context(json!("calendar")).into_bytes(), vec!["body", "context"], "value_error"),
        (
            "current_page too long",
            context(json!({"current_page": "p".repeat(51)})).into_bytes(),
            vec!["body", "context", "current_page"],
            "value_error",
        ),
        (
            "current_page a number",
            context(json!({"current_page": 7})).into_bytes(),
            vec!["body", "context", "current_page"],
            "value_error",
        ),
        (
            "workout id with a space",
            context(json!({"selected_workout_id": "w 1"})).into_bytes(),
            vec!["body", "context", "selected_workout_id"],
            "value_error",
        ),
        (
            "workout id empty",
            context(json!({"selected_workout_id": ""})).into_bytes(),
            vec!["body", "context", "selected_workout_id"],
            "value_error",
        ),
        (
            "workout id too long",
            context(json!({"selected_workout_id": "w".repeat(101)})).into_bytes(),
            vec!["body", "context", "selected_workout_id"],
            "value_error",
        ),
        (
            "workout id with SQL",
            context(json!({"selected_workout_id": "w';drop table x;--"})).into_bytes(),
            vec!["body", "context", "selected_workout_id"],
            "value_error",
        ),
        (
            "date without padding",
            context(json!({"selected_date": "2026-2-01"})).into_bytes(),
            vec!["body", "context", "selected_date"],
            "value_error",
        ),
        (
            "date in words",
            context(json!({"selected_date": "tomorrow"})).into_bytes(),
            vec!["body", "context", "selected_date"],
            "value_error",
        ),
        (
            "date a number",
            context(json!({"selected_date": 20260201})).into_bytes(),
            vec!["body", "context", "selected_date"],
            "value_error",
        ),
        (
            "imports not a list",
            context(json!({"pending_imports": url})).into_bytes(),
            vec!["body", "context", "pending_imports"],
            "value_error",
        ),
        (
            "21 imports",
            context(json!({"pending_imports": vec![json!({"source_url": url}); 21]})).into_bytes(),
            vec!["body", "context", "pending_imports"],
            "value_error",
        ),
        (
            "import without url",
            import(json!({"title": "Leg Day"})).into_bytes(),
            vec!["body", "context", "pending_imports", "0", "source_url"],
            "missing",
        ),
        (
            "import url empty",
            import(json!({"source_url": ""})).into_bytes(),
            vec!["body", "context", "pending_imports", "0", "source_url"],
            "value_error",
        ),
        (
            "import url too long",
            import(json!({"source_url": format!("https://x.co/{}", "a".repeat(2_040))})).into_bytes(),
            vec!["body", "context", "pending_imports", "0", "source_url"],
            "value_error",
        ),
        (
            "import title too long",
            import(json!({"source_url": url, "title": "t".repeat(301)})).into_bytes(),
            vec!["body", "context", "pending_imports", "0", "title"],
            "value_error",
        ),
        (
            "import count in words",
            import(json!({"source_url": url, "exercise_count": "five"})).into_bytes(),
            vec!["body", "context", "pending_imports", "0", "exercise_count"],
            "value_error",
        ),
    ];
    for (case, body, loc, kind) in cases {
        let refusal = s.chat_refused("user_bad_body", Some(JSON), body).await;
        refusal.invalid(case, &loc, kind);
    }
    assert_eq!(s.footprint("user_bad_body").await, (0, 0), "no quota unit, session or message was spent");
    assert_eq!(s.anthropic.request_count(), 0, "Claude was never called");

    // The messages say what is wrong.
    let said = |refusal: Refusal| refusal.body["detail"][0]["msg"].as_str().unwrap_or_default().to_string();
    let user = "user_bad_body";
    assert_eq!(said(s.chat_refused(user, Some(JSON), "{}").await), "Field required");
    assert_eq!(
        said(s.chat_refused(user, Some(JSON), r#"{"message": ""}"#).await),
        "String should have at least 1 character"
    );
    let too_long = json!({"message": long(10_001)}).to_string();
    assert_eq!(said(s.chat_refused(user, Some(JSON), too_long).await), "String should have at most 10000 characters");
    let wrong_type = said(s.chat_refused(user, Some(JSON), r#"{"message": 42}"#).await);
    assert!(wrong_type.starts_with("invalid type: integer `42`, expected a string"), "{wrong_type}");
    let syntax = said(s.chat_refused(user, Some(JSON), r#"{"message": "hi""#).await);
    assert!(syntax.starts_with("JSON decode error: EOF while parsing"), "{syntax}");
    let trailing = said(s.chat_refused(user, Some(JSON), r#"{"message": "hi"} {}"#).await);
    assert!(trailing.starts_with("JSON decode error: trailing characters"), "{trailing}");
    let uuid = said(s.chat_refused(user, Some(JSON), r#"{"message": "hi", "session_id": "nope"}"#).await);
    assert!(uuid.starts_with("Input should be a valid UUID"), "{uuid}");
    assert_eq!(s.footprint(user).await, (0, 0));
}

async fn chat_requests_at_the_limits_are_served(backend: Backend) {
    let s = Service::start(backend, &[]).await;
    // Every field at its largest allowed value, and (as pydantic) thousands of unknown fields ignored.
    let mut body = json!({
        "message": "é".repeat(10_000),
        "session_id": "",
        "context": {
            "current_page": "p".repeat(50),
            "selected_workout_id": "w".repeat(100),
            "selected_date": "2026-02-01",
            "pending_imports": vec![json!({"source_url": format!("https://x.co/{}", "a".repeat(2_035)), "title": "t".repeat(300), "exercise_count": 5}); 20],
        },
    });
    for i in 0..5_000 {
        body[format!("unknown_{i}")] = json!(i);
    }
    let bytes = body.to_string();
    assert!(bytes.len() < s.max_body(), "{} bytes", bytes.len());
    let request = s.chat_request("user_at_limits", Some("application/json; charset=utf-8"), bytes);
    let t = read_stream(request, Duration::from_secs(30)).await.expect("stream");
    assert_eq!(t.names().first(), Some(&"message_start"), "{:?}", t.names());
    assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.names());
    // Unknown fields are skipped without recursion, however deep.
    let t = read_stream(s.chat_request("user_at_limits", Some(JSON), deeply_nested(100_000)), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.names());
    // A null session id starts a new session too.
    let t = s.chat("user_at_limits", json!({"message": "x", "session_id": null, "context": null})).await;
    assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.names());
    assert_eq!(s.footprint("user_at_limits").await, (3, 3));
}

async fn chat_bodies_of_other_content_types_are_415_and_spend_nothing(backend: Backend) {
    let s = Service::start(backend, &[]).await;
    let body = r#"{"message": "hi"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=xyz"),
        Some("application/xml"),
        Some("json"),
        None,
    ] {
        let detail = s
            .chat_refused("user_bad_type", content_type, body)
            .await
            .plain(&format!("{content_type:?}"), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(detail, "Expected request with `Content-Type: application/json`");
    }
    assert_eq!(s.footprint("user_bad_type").await, (0, 0));
    assert_eq!(s.anthropic.request_count(), 0);
}

async fn chat_bodies_over_the_size_limit_are_413_and_spend_nothing(backend: Backend) {
    let s = Service::start(backend, &[]).await;
    let limit = s.max_body();
    // At the limit the body is read (and this one is then a valid request); one byte more is not.
    let t = read_stream(s.chat_request("user_big_ok", Some(JSON), padded_body(limit)), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(t.names().last(), Some(&"message_end"), "{:?}", t.names());

    let detail = s
        .chat_refused("user_big", Some(JSON), padded_body(limit + 1))
        .await
        .plain("length", StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(detail, "request body too large");
    // Without a Content-Length (chunked), the limit holds as the bytes arrive.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        padded_body(limit + 1).chunks(8 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    s.chat_refused("user_big", Some(JSON), streamed).await.plain("chunked", StatusCode::PAYLOAD_TOO_LARGE);
    // Thousands of unknown fields beyond the limit: refused by size before any parsing.
    let fields: Vec<String> = (0..limit / 8).map(|i| format!(r#""f{i}":1"#)).collect();
    let many = format!(r#"{{"message":"hi",{}}}"#, fields.join(","));
    s.chat_refused("user_big", Some(JSON), many).await.plain("fields", StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(s.footprint("user_big").await, (0, 0));
    assert_eq!(s.anthropic.request_count(), 1, "only the request at the limit reached Claude");
}

async fn malformed_and_valid_requests_interleaved_count_only_the_valid(backend: Backend) {
    let s = Service::start(backend, &[]).await;
    let user = "user_interleaved";
    let malformed: [(Option<&str>, String); 5] = [
        (Some(JSON), r#"{"message": "#.to_string()),
        (Some(JSON), r#"{"session_id": null}"#.to_string()),
        (Some(JSON), json!({"message": "x".repeat(10_001)}).to_string()),
        (Some("text/plain"), r#"{"message": "hi"}"#.to_string()),
        (Some(JSON), r#"{"message": "hi", "session_id": "nope"}"#.to_string()),
    ];
    let s = &s;
    let requests = (0..50).map(|i| {
        let bad = malformed[(i / 2) % malformed.len()].clone();
        async move {
            if i % 2 == 0 {
                let t = s.chat(user, json!({"message": format!("hello number {i}")})).await;
                assert_eq!(t.names().first(), Some(&"message_start"), "{i}: {:?}", t.names());
                assert_eq!(t.names().last(), Some(&"message_end"), "{i}: {:?}", t.names());
            } else {
                let refusal = s.chat_refused(user, bad.0, bad.1).await;
                assert!(refusal.body["detail"].is_array() || refusal.body["detail"].is_string(), "{i}: {refusal:?}");
            }
        }
    });
    futures::future::join_all(requests).await;
    assert_eq!(s.footprint(user).await, (25, 25), "usage and sessions count only the 25 valid requests");
    assert_eq!(s.anthropic.request_count(), 25);
}

async fn internal_embedding_bodies_are_checked_before_any_work(backend: Backend) {
    let s = Service::start(backend, &[]).await;
    let workout = json!({"id": "w1", "profile_id": "alice", "title": "Leg Day", "description": "Squats"});
    let generate = json!({"workouts": [workout]}).to_string();
    let webhook = json!({"workout_id": "w1", "workout": workout}).to_string();
    for (path, valid) in [("/internal/embeddings/generate", &generate), ("/internal/embeddings/webhook", &webhook)] {
        for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
            s.internal_post(path, content_type, valid.clone()).await.plain(path, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        let detail = s
            .internal_post(path, Some(JSON), padded_body(s.max_body() + 1))
            .await
            .plain(path, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(detail, "request body too large");
        s.internal_post(path, Some(JSON), r#"{"table": "workouts""#).await.invalid(path, &["body"], "json_invalid");
        s.internal_post(path, Some(JSON), b"\xff".to_vec()).await.invalid(path, &["body"], "json_invalid");
        s.internal_post(path, Some(JSON), "[]").await.invalid(path, &["body"], "value_error");
        s.internal_post(path, Some(JSON), r#"["workouts"]"#).await.invalid(path, &["body"], "value_error");
        s.internal_post(path, Some(JSON), r#"{"table": "profiles"}"#).await.invalid(
            path,
            &["body", "table"],
            "value_error",
        );
        // (serde_json reads a number where an enum's name belongs as a syntax error.)
        s.internal_post(path, Some(JSON), r#"{"table": 7}"#).await.invalid(path, &["body"], "json_invalid");
    }
    // Free-form workout JSON is decoded with serde_json's recursion limit, not the stack's.
    let deep = format!(r#"{{"workouts": [{{"id": "w1", "x": {}{}}}]}}"#, "[".repeat(10_000), "]".repeat(10_000));
    let refusal = s.internal_post("/internal/embeddings/generate", Some(JSON), deep).await;
    assert!(refusal.invalid("deep", &["body"], "json_invalid").contains("recursion limit exceeded"), "{refusal:?}");
    let generate_cases = [
        (r#"{"workout_ids": "w1"}"#, vec!["body", "workout_ids"]),
        (r#"{"workout_ids": [1]}"#, vec!["body", "workout_ids", "0"]),
        (r#"{"workouts": [42]}"#, vec!["body", "workouts", "0"]),
    ];
    for (body, loc) in generate_cases {
        s.internal_post("/internal/embeddings/generate", Some(JSON), body).await.invalid(body, &loc, "value_error");
    }
    let webhook_cases = [
        (r#"{}"#, vec!["body", "workout_id"], "missing"),
        (r#"{"workout_id": 42}"#, vec!["body", "workout_id"], "value_error"),
        (r#"{"workout_id": "w1", "workout": "x"}"#, vec!["body", "workout"], "value_error"),
    ];
    for (body, loc, kind) in webhook_cases {
        s.internal_post("/internal/embeddings/webhook", Some(JSON), body).await.invalid(body, &loc, kind);
    }
    // Hostile table names in the path are named as invalid, never looked up.
    let long = "w".repeat(5_000);
    for table in
        ["profiles", "..%2F..%2Fetc%2Fpasswd", "workouts%00", "%E2%80%AEworkouts", "workouts';--", long.as_str()]
    {
        let refusal =
            Refusal::of(s.internal(reqwest::Method::GET, &format!("/internal/embeddings/progress/{table}"))).await;
        refusal.invalid(table, &["path", "table"], "value_error");
    }
    let not_utf8 = Refusal::of(s.internal(reqwest::Method::GET, "/internal/embeddings/progress/%FF%FE")).await;
    not_utf8.invalid("not UTF-8", &["path"], "value_error");

    assert!(s.openai.requests().is_empty(), "no embedding was computed");
    assert_eq!(s.server.state.embeddings.index.count("alice").await.expect("count"), 0, "nothing was stored");
    // The same bodies, well formed, are served.
    for (path, valid) in [("/internal/embeddings/generate", &generate), ("/internal/embeddings/webhook", &webhook)] {
        let response = s
            .internal(reqwest::Method::POST, path)
            .header(CONTENT_TYPE, JSON)
            .body(valid.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    assert_eq!(s.server.state.embeddings.index.count("alice").await.expect("count"), 1);
}

// ---------------------------------------------------------------------------------------------
// The plugin admin API (no user data behind it: SQLite only)
// ---------------------------------------------------------------------------------------------

/// The service over a plugins directory holding the `echo` plugin.
async fn admin_service(plugins: &PluginsDir) -> Service {
    let dir = plugins.path().display().to_string();
    Service::start(Backend::Sqlite, &[("PLUGINS_DIR", dir.as_str())]).await
}

/// The plugin directories in the plugins directory (hidden ones, like the compile cache, left out).
fn entries(plugins: &PluginsDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(plugins.path())
        .expect("plugins dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_uploads_that_do_not_load_are_refused_and_nothing_is_written() {
    let plugins = PluginsDir::new();
    plugins.add("echo");
    let s = &admin_service(&plugins).await;
    let upload = |body: Value| async move { s.internal_post("/admin/plugins", Some(JSON), body.to_string()).await };
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let probe = PluginsDir::new();
    probe.add("host-probe");
    let (manifest, wasm) = (probe.manifest("host-probe"), probe.wasm("host-probe"));

    // Missing, mistyped and unknown parts.
    upload(json!({})).await.invalid("nothing", &["body", "manifest"], "missing");
    upload(json!({"manifest": manifest})).await.invalid("no wasm", &["body", "wasm_base64"], "missing");
    upload(json!({"wasm_base64": b64(&wasm)})).await.invalid("no manifest", &["body", "manifest"], "missing");
    upload(json!({"manifest": 1, "wasm_base64": b64(&wasm)})).await.invalid(
        "number",
        &["body", "manifest"],
        "value_error",
    );
    let unknown = upload(json!({"manifest": manifest, "wasm_base64": b64(&wasm), "signature": "x"})).await;
    assert!(unknown.invalid("extra part", &["body", "signature"], "value_error").contains("unknown field `signature`"));
    upload(json!({"manifest": manifest, "wasm_base64": "%%%"})).await.invalid(
        "not base64",
        &["body", "wasm_base64"],
        "value_error",
    );
    let other_types = s.internal_post("/admin/plugins", Some("multipart/form-data; boundary=x"), "--x--").await;
    other_types.plain("multipart", StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Parts that do not make a plugin: each names the stage that refused it.
    let rejected = |case: &'static str, manifest: String, wasm: Vec<u8>, stage: &'static str| {
        let body = json!({"manifest": manifest, "wasm_base64": b64(&wasm)});
        async move { upload(body).await.invalid(case, &["body", stage], "plugin_rejected") }
    };
    rejected("empty wasm", manifest.clone(), Vec::new(), "compile").await;
    rejected("truncated wasm", manifest.clone(), wasm[..wasm.len() / 2].to_vec(), "compile").await;
    rejected("a core module", manifest.clone(), b"\0asm\x01\0\0\0".to_vec(), "compile").await;
    let surprise =
        rejected("unknown manifest key", format!("{manifest}\nsurprise = true\n"), wasm.clone(), "manifest").await;
    assert!(surprise.contains("surprise"), "{surprise}");
    rejected("manifest not TOML", "name = ".to_string(), wasm.clone(), "manifest").await;
    let escape = manifest.replacen("name = \"host-probe\"", "name = \"../../escape\"", 1);
    assert_ne!(escape, manifest);
    rejected("a path for a name", escape, wasm.clone(), "manifest").await;

    // Beyond the upload limit: refused while reading.
    let huge = padded_body(host::api::admin::MAX_UPLOAD_BYTES + 1);
    s.internal_post("/admin/plugins", Some(JSON), huge).await.plain("huge", StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(entries(&plugins), ["echo"], "no rejected upload was written");
    let listing = s.internal(reqwest::Method::GET, "/admin/plugins").send().await.unwrap();
    assert_eq!(read_json(listing).await.1["functions"], 2, "the served tool set is unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_and_rollbacks_of_unknown_or_hostile_names_are_404() {
    let plugins = PluginsDir::new();
    plugins.add("echo");
    let s = admin_service(&plugins).await;
    let long = "a".repeat(300);
    for name in ["nope", "ECHO", "echo%20", "..", "%2e%2e", "..%2F..%2Fetc", "echo%00", "%E2%80%AE", long.as_str()] {
        for action in ["reload", "rollback"] {
            let refusal = s.internal_post(&format!("/admin/plugins/{name}/{action}"), None, "").await;
            let detail = refusal.plain(&format!("{action} {name}"), StatusCode::NOT_FOUND);
            assert!(detail.starts_with("no plugin named ") || detail == "Not Found", "{action} {name}: {detail}");
        }
    }
    for action in ["reload", "rollback"] {
        let not_utf8 = s.internal_post(&format!("/admin/plugins/%FF%FE/{action}"), None, "").await;
        not_utf8.invalid(action, &["path"], "value_error");
    }
    let detail =
        s.internal_post("/admin/plugins/echo/rollback", None, "").await.plain("rollback", StatusCode::CONFLICT);
    assert_eq!(detail, "plugin echo has no previous version to roll back to");
    assert_eq!(entries(&plugins), ["echo"]);
}
