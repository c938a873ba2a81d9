//! Auth as the chat: no credential, an expired one or one from another issuer is refused with 401
//! and the RFC 9728 pointer; the metadata names the Clerk instance; a session belongs to the user
//! who opened it; a browser page from an origin not allowed is refused.

use serde_json::json;
use stand_ins::clerk::mint_mobile;

use super::raw::{initialize, open_session, post, request, session_headers};
use super::{ALICE, BOB, McpWorld};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_valid_credentials_get_401_pointing_at_the_resource_metadata() {
    let world = McpWorld::start().await;
    let expired = format!(
        "Bearer {}",
        mint_mobile(host::config::DEFAULT_JWT_SECRET, ALICE, json!({"exp": chrono::Utc::now().timestamp() - 3600}))
    );
    let foreign_issuer =
        format!("Bearer {}", world.clerk.mint(ALICE, json!({"iss": "https://clerk.elsewhere.example"})));
    let garbage = "Bearer not-a-token".to_string();
    let expected_challenge =
        format!(r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#, world.server.base_url);
    let list = request(1, "tools/list", json!({}));
    for (case, headers) in [
        ("missing", vec![]),
        ("expired", vec![("authorization", expired.as_str())]),
        ("foreign issuer", vec![("authorization", foreign_issuer.as_str())]),
        ("garbage", vec![("authorization", garbage.as_str())]),
    ] {
        let reply = post(&world, &headers, list.clone()).await;
        assert_eq!(reply.status, 401, "{case}: {}", reply.body);
        assert_eq!(reply.header("www-authenticate"), Some(expected_challenge.as_str()), "{case}");
    }
    // A real Clerk token of the configured instance is accepted.
    let clerk = format!("Bearer {}", world.clerk.mint(ALICE, json!({})));
    open_session(&world, &clerk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_metadata_names_the_clerk_instance() {
    let world = McpWorld::start().await;
    for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"] {
        let response = world.server.client().get(world.server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let metadata: serde_json::Value = response.json().await.unwrap();
        assert_eq!(metadata["resource"], world.mcp_url());
        assert_eq!(metadata["authorization_servers"], json!([world.clerk.issuer()]));
        assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_belongs_to_the_user_who_opened_it() {
    let world = McpWorld::start().await;
    world.mapper.add_workout(ALICE, json!({"id": "w-alice", "title": "Leg Day", "description": "Squats"}));
    let (alice, bob) = (world.bearer(ALICE), world.bearer(BOB));
    let session = open_session(&world, &alice).await;
    let search = request(2, "tools/call", json!({"name": "search_workout_library", "arguments": {"query": "leg day"}}));
    let reply = post(&world, &session_headers(&bob, &session), search.clone()).await;
    let error = &reply.message()["error"];
    assert_eq!(error["code"], -32600, "{}", reply.body);
    assert_eq!(error["message"], "This session belongs to another user.");
    assert!(world.mapper.requests().is_empty(), "Bob's request ran nothing");
    // Alice's own requests on it go on, with her credential only.
    let reply = post(&world, &session_headers(&alice, &session), search).await;
    let result = &reply.message()["result"];
    assert_eq!(result["isError"], false, "{}", reply.body);
    assert_eq!(result["structuredContent"]["workouts"][0]["workout_id"], "w-alice");
    let requests = world.mapper.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("authorization"), Some(alice.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_from_an_origin_not_allowed_is_refused() {
    let world = McpWorld::start().await;
    let alice = world.bearer(ALICE);
    let foreign =
        post(&world, &[("authorization", alice.as_str()), ("origin", "https://evil.example")], initialize()).await;
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    let allowed =
        post(&world, &[("authorization", alice.as_str()), ("origin", "https://app.amakaflow.test")], initialize())
            .await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
}
