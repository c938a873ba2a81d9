//! Assertions of the tool suites, over the shared [`ToolWorld`].

pub use end_to_end::tool_world::{OTHER_USER, ToolWorld as Tools, USER, token};
use end_to_end::tool_world::{expect_error, expect_ok};
use serde_json::{Value, json};
pub use stand_ins::downstream::Downstream;
use stand_ins::recording_server::RecordedRequest;
use tools::ToolOutcome;

pub fn ok(outcome: &ToolOutcome, function: &str) -> String {
    expect_ok(outcome, function)
}

pub fn fails(outcome: &ToolOutcome, function: &str, code: &str) -> String {
    expect_error(outcome, function, code)
}

/// The one request a stand-in received.
pub fn only_request(service: &Downstream) -> RecordedRequest {
    let requests = service.requests();
    assert_eq!(requests.len(), 1, "expected one request to {:?}, got {requests:#?}", service.service());
    requests.into_iter().next().expect("a request")
}

/// Asserts method, path, query and the caller's credentials of a request.
pub fn assert_request(request: &RecordedRequest, method: &str, path: &str, query: Option<&str>) {
    assert_request_by(request, USER, method, path, query);
}

pub fn assert_request_by(request: &RecordedRequest, user: &str, method: &str, path: &str, query: Option<&str>) {
    assert_eq!(request.method, method, "{request:?}");
    assert_eq!(request.path, path, "{request:?}");
    assert_eq!(request.query.as_deref(), query, "{request:?}");
    assert_eq!(request.header("authorization"), Some(token(user).as_str()), "the caller's token is forwarded");
    assert_eq!(request.header("x-user-id"), Some(user), "the caller's id is forwarded");
}

/// A UUID v4 in text form (preview ids).
pub fn is_uuid4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && text.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        && parts[2].starts_with('4')
        && matches!(parts[3].chars().next(), Some('8' | '9' | 'a' | 'b'))
}

/// The preview id of a preview result, checked to be a UUID v4.
pub fn preview_id(result: &str) -> String {
    let value: Value = serde_json::from_str(result).expect("a JSON result");
    let id = value["preview_id"].as_str().expect("a preview_id").to_string();
    assert!(is_uuid4(&id), "{id}");
    id
}

/// A mapper workout with exercises in its blocks, as mapper-api stores one.
pub fn seeded_workout(title: &str, description: &str) -> Value {
    json!({
        "title": title,
        "description": description,
        "tags": ["legs"],
        "estimated_duration_minutes": 45,
        "device": "web",
        "sources": [],
        "workout_data": {"blocks": [{"label": "Main", "exercises": [
            {"name": "Squat", "sets": 5, "reps": 5},
            {"name": "Lunge", "reps": 12, "duration": null},
        ]}]},
    })
}
