//! What a confused or hostile client sends: bad query strings, unknown routes and methods,
//! huge or undecodable headers, bodies where none belong. Always a 4xx with a JSON reason,
//! never a 500. (Bad bodies and path segments of every endpoint are the `bad_input` suite's.)

use end_to_end::server::TestServer;
use serde_json::json;

use super::*;

#[tokio::test]
async fn bad_query_strings_are_422_naming_the_parameter() {
    let server = TestServer::start(&[], database(Backend::Sqlite).await).await.unwrap();
    for (query, field) in
        [("limit=abc", "limit"), ("limit=0", "limit"), ("limit=101", "limit"), ("offset=-1", "offset")]
    {
        let (status, body) =
            read(server.get_as("user_input", &format!("/chat/sessions?{query}")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        let detail = &body["detail"][0];
        assert_eq!(detail["loc"][0], "query", "{query}: {body}");
        let said = format!("{} {}", detail["loc"], detail["msg"]);
        assert!(said.contains(field), "{query}: {said}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_4xx() {
    let server = TestServer::start(&[], database(Backend::Sqlite).await).await.unwrap();
    let (status, body) = read(server.get_as("user_input", "/chat/nothing-here").send().await.unwrap()).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})));
    let response = server.client().put(server.url("/chat/sessions")).body("{}").send().await.unwrap();
    let (status, body) = read(response).await;
    assert_eq!((status, body), (StatusCode::METHOD_NOT_ALLOWED, json!({"detail": "Method Not Allowed"})));
}

#[tokio::test]
async fn bodies_on_bodiless_endpoints_are_ignored_not_fatal() {
    let server = TestServer::start(&[("MAX_BODY_BYTES", "1024")], database(Backend::Sqlite).await).await.unwrap();
    let session = server.store().create_session("user_input", "t").await.unwrap();
    let big = vec![b'{'; 64 * 1024];
    let response = server
        .delete_as("user_input", &format!("/chat/sessions/{}", session.id))
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success() || response.status().is_client_error(), "{}", response.status());
    let response = server
        .get_as("user_input", "/chat/sessions")
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn undecodable_or_huge_headers_are_4xx() {
    let server = TestServer::start(&[], database(Backend::Sqlite).await).await.unwrap();
    let latin1 = reqwest::header::HeaderValue::from_bytes(b"Bearer \xe9\xe9\xe9").unwrap();
    let response =
        server.client().get(server.url("/chat/sessions")).header("Authorization", latin1).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let key = reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap();
    let response = server.client().get(server.url("/chat/sessions")).header("X-API-Key", key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Beyond what hyper buffers for a request head: refused before any handler runs.
    let huge = "x".repeat(1024 * 1024);
    match server.client().get(server.url("/chat/sessions")).header("X-Padding", huge).send().await {
        Ok(response) => assert!(response.status().is_client_error(), "{}", response.status()),
        Err(err) => assert!(err.is_request() || err.is_connect() || err.is_body(), "{err}"),
    }
    assert_eq!(
        server.client().get(server.url("/health")).send().await.unwrap().status(),
        StatusCode::OK,
        "still serving"
    );
}
