//! Who may call: Clerk session tokens against a real JWKS server, mobile pairing tokens, API
//! keys, the test bypass, and the internal key.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use end_to_end::server::{TEST_AUTH_SECRET, TestServer};
use host::api::AppState;
use host::api::extract::InternalCaller;
use serde_json::json;
use stand_ins::clerk::{ClerkStandIn, mint_mobile};

use super::*;

const ORIGIN: &str = "https://app.amakaflow.test";
const MOBILE_SECRET: &str = "a-mobile-pairing-secret-of-32-chars-or-more";
const USER: &str = "user_2aliceABCDEF";

async fn server(clerk: Option<&ClerkStandIn>, extra: &[(&str, &str)]) -> TestServer {
    let domain = clerk.map(|c| c.domain()).unwrap_or_default();
    let mut vars = vec![
        ("CLERK_DOMAIN", domain.as_str()),
        ("ALLOWED_ORIGINS", ORIGIN),
        ("JWT_SECRET", MOBILE_SECRET),
        ("API_KEYS", "key-for-alice:user_2aliceABCDEF, bare-admin-key"),
    ];
    vars.extend_from_slice(extra);
    let server = TestServer::start(&vars, TestDatabase::sqlite().await.unwrap()).await.unwrap();
    // A session of USER, so a successful call proves which user it authenticated.
    server.store().create_session(USER, "alice's chat").await.unwrap();
    server
}

async fn sessions_with(server: &TestServer, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = server.client().get(server.url("/chat/sessions"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    read(request.send().await.unwrap()).await
}

async fn bearer(server: &TestServer, token: &str) -> (StatusCode, Value) {
    sessions_with(server, &[("Authorization", &format!("Bearer {token}"))]).await
}

/// The caller was authenticated as USER: the listing holds USER's session.
fn is_alice(body: &Value) -> bool {
    body.as_array().is_some_and(|list| list.len() == 1 && list[0]["title"] == "alice's chat")
}

#[tokio::test]
async fn a_valid_clerk_token_authenticates_its_subject() {
    let clerk = ClerkStandIn::start().await;
    let server = server(Some(&clerk), &[]).await;
    let (status, body) = bearer(&server, &clerk.mint(USER, json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(is_alice(&body), "{body}");
    // An allowed `azp` and a missing one (native apps) are both fine.
    let (status, _) = bearer(&server, &clerk.mint(USER, json!({"azp": ORIGIN}))).await;
    assert_eq!(status, StatusCode::OK);
    // Another subject sees only their own (no) sessions.
    let (status, body) = bearer(&server, &clerk.mint("user_2bob", json!({}))).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    assert_eq!(clerk.fetch_count(), 1, "the key set is fetched once and cached");
}

#[tokio::test]
async fn every_token_of_the_attack_set_is_refused_with_401() {
    let clerk = ClerkStandIn::start().await;
    let server = server(Some(&clerk), &[]).await;
    let now = chrono::Utc::now().timestamp();
    let valid = clerk.mint(USER, json!({}));
    let parts: Vec<&str> = valid.split('.').collect();
    let attacks: Vec<(&str, String, &str)> = vec![
        ("alg none", clerk.mint_alg_none(USER), "Invalid token"),
        ("HS256 signed with the RSA public key", clerk.mint_hs256_with_public_key(USER), "alg"),
        ("unknown kid", clerk.mint_unknown_kid(USER), "signing key"),
        ("published kid, foreign signature", clerk.mint_forged_signature(USER), "Signature"),
        (
            "expired",
            clerk.mint(USER, json!({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600})),
            "Token expired",
        ),
        ("expired beyond the 10 s leeway", clerk.mint(USER, json!({"exp": now - 30})), "Token expired"),
        ("nbf in the future", clerk.mint(USER, json!({"nbf": now + 3600})), "not yet valid"),
        ("wrong iss", clerk.mint(USER, json!({"iss": "https://evil.clerk.accounts.dev"})), "issuer"),
        ("azp not allowed", clerk.mint(USER, json!({"azp": "https://evil.example"})), "authorized party"),
        ("no exp", clerk.mint(USER, json!({"exp": null})), "exp"),
        ("no nbf", clerk.mint(USER, json!({"nbf": null})), "nbf"),
        ("no sub", clerk.mint(USER, json!({"sub": null})), "sub"),
        ("pending session", clerk.mint(USER, json!({"sts": "pending"})), "pending"),
        ("signature truncated", valid[..valid.len() - 12].to_string(), "Invalid token"),
        ("signature removed", format!("{}.{}.", parts[0], parts[1]), "Invalid token"),
        ("two segments", format!("{}.{}", parts[0], parts[1]), "Invalid token format"),
        (
            "payload swapped",
            format!("{}.{}.{}", parts[0], clerk.mint("user_2mallory", json!({})).split('.').nth(1).unwrap(), parts[2]),
            "Signature",
        ),
        ("garbage", "not-a-jwt-at-all".to_string(), "Invalid token format"),
        ("garbage with dots", "a.b.c".to_string(), "Invalid token format"),
        ("empty (the server sees `Bearer`)", String::new(), "Invalid authorization header format"),
        ("100 KB token", clerk.mint_oversized(USER, 100 * 1024), "Invalid token format"),
    ];
    for (name, token, expected) in &attacks {
        let (status, body) = bearer(&server, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(expected), "{name}: detail {detail:?} should mention {expected:?}");
    }
    // The same server still accepts the valid token: the refusals were about the tokens.
    let (status, body) = bearer(&server, &valid).await;
    assert_eq!(status, StatusCode::OK);
    assert!(is_alice(&body));
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_the_jwks_refresh() {
    let clerk = ClerkStandIn::start().await;
    let server = server(Some(&clerk), &[("CLERK_JWKS_MIN_REFRESH_SECONDS", "0")]).await;
    let before_rotation = clerk.mint(USER, json!({}));
    assert_eq!(bearer(&server, &before_rotation).await.0, StatusCode::OK);
    assert_eq!(clerk.fetch_count(), 1);

    clerk.rotate().await;
    let after_rotation = clerk.mint(USER, json!({}));
    let (status, body) = bearer(&server, &after_rotation).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(is_alice(&body));
    assert_eq!(clerk.fetch_count(), 2, "the unknown kid caused exactly one refetch");
    // Clerk no longer publishes the old key, so its tokens stop working once the set is refreshed.
    assert_eq!(bearer(&server, &before_rotation).await.0, StatusCode::UNAUTHORIZED);
    // Known keys need no fetch.
    assert_eq!(bearer(&server, &after_rotation).await.0, StatusCode::OK);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_refresh_interval() {
    let clerk = ClerkStandIn::start().await;
    // The default interval (300 s) applies.
    let server = server(Some(&clerk), &[]).await;
    assert_eq!(bearer(&server, &clerk.mint(USER, json!({}))).await.0, StatusCode::OK);
    clerk.rotate().await;
    let rotated = clerk.mint(USER, json!({}));
    let flood: Vec<_> = (0..20)
        .map(|i| {
            let token = if i % 2 == 0 { rotated.clone() } else { clerk.mint_unknown_kid(USER) };
            let server = &server;
            async move { bearer(server, &token).await.0 }
        })
        .collect();
    for status in futures::future::join_all(flood).await {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(clerk.fetch_count(), 1, "a flood of unknown kids must not reach Clerk within the interval");
}

#[tokio::test]
async fn a_jwks_outage_is_503_at_first_and_cached_keys_keep_working_later() {
    let clerk = ClerkStandIn::start().await;
    let server = server(Some(&clerk), &[("CLERK_JWKS_MIN_REFRESH_SECONDS", "0")]).await;
    let token = clerk.mint(USER, json!({}));

    clerk.set_available(false);
    let (status, body) = bearer(&server, &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "no keys at all is our problem, not the user's: {body}");
    clerk.set_available(true);
    assert_eq!(bearer(&server, &token).await.0, StatusCode::OK, "recovers once Clerk answers");

    clerk.set_available(false);
    assert_eq!(bearer(&server, &token).await.0, StatusCode::OK, "cached keys need no fetch");
    clerk.rotate().await;
    let rotated = clerk.mint(USER, json!({}));
    let fetches = clerk.fetch_count();
    assert_eq!(bearer(&server, &rotated).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(clerk.fetch_count(), fetches + 1, "the unknown kid was looked up");
    assert_eq!(bearer(&server, &token).await.0, StatusCode::OK, "the cached key still serves during the outage");
    clerk.set_available(true);
    assert_eq!(bearer(&server, &rotated).await.0, StatusCode::OK);
}

#[tokio::test]
async fn mobile_pairing_tokens_are_verified_with_the_jwt_secret() {
    let server = server(None, &[]).await;
    let (status, body) = bearer(&server, &mint_mobile(MOBILE_SECRET, USER, json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(is_alice(&body));

    let refused = [
        ("wrong secret", mint_mobile("another-secret-of-thirty-two-characters!", USER, json!({})), "Signature"),
        ("expired", mint_mobile(MOBILE_SECRET, USER, json!({"exp": chrono::Utc::now().timestamp() - 60})), "expired"),
        ("no sub", mint_mobile(MOBILE_SECRET, USER, json!({"sub": null})), "sub"),
    ];
    for (name, token, expected) in refused {
        let (status, body) = bearer(&server, &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert!(body["detail"].as_str().unwrap().contains(expected), "{name}: {body}");
    }
    // With another audience it is not a pairing token; without Clerk configured it cannot pass.
    let other_audience = mint_mobile(MOBILE_SECRET, USER, json!({"aud": "web"}));
    assert_ne!(bearer(&server, &other_audience).await.0, StatusCode::OK);
}

#[tokio::test]
async fn without_clerk_configured_garbage_is_401_and_a_real_jwt_is_a_server_error() {
    let clerk = ClerkStandIn::start().await;
    let server = server(None, &[]).await;
    assert_eq!(bearer(&server, "garbage").await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = bearer(&server, &clerk.mint(USER, json!({}))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["detail"], "JWT validation not configured (missing CLERK_DOMAIN)");
}

#[tokio::test]
async fn api_keys_authenticate_as_their_user() {
    let server = server(None, &[]).await;
    let (status, body) = sessions_with(&server, &[("X-API-Key", "key-for-alice")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(is_alice(&body), "{body}");
    // A bare key is the admin user, who has no sessions.
    assert_eq!(sessions_with(&server, &[("X-API-Key", "bare-admin-key")]).await, (StatusCode::OK, json!([])));
    for wrong in ["key-for-alic", "key-for-alice2", "", "user_2aliceABCDEF"] {
        let (status, body) = sessions_with(&server, &[("X-API-Key", wrong)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert_eq!(body["detail"], "Invalid API key");
    }
}

#[tokio::test]
async fn missing_or_malformed_credentials_get_the_original_details() {
    let server = server(None, &[]).await;
    assert_eq!(
        sessions_with(&server, &[]).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Missing authentication. Provide Authorization header or X-API-Key."})
        )
    );
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Token abc"] {
        assert_eq!(
            sessions_with(&server, &[("Authorization", header)]).await,
            (StatusCode::UNAUTHORIZED, json!({"detail": "Invalid authorization header format"})),
            "{header}"
        );
    }
}

#[tokio::test]
async fn the_test_bypass_works_outside_production_only() {
    let server = server(None, &[]).await;
    let ok = sessions_with(&server, &[("X-Test-Auth", TEST_AUTH_SECRET), ("X-Test-User-Id", USER)]).await;
    assert_eq!(ok.0, StatusCode::OK);
    assert!(is_alice(&ok.1));
    for (secret, user) in [("wrong-secret", USER), (TEST_AUTH_SECRET, "abcd"), (TEST_AUTH_SECRET, "")] {
        let (status, _) = sessions_with(&server, &[("X-Test-Auth", secret), ("X-Test-User-Id", user)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{secret} {user}");
    }

    let production = TestServer::start(
        &[
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
            ("CLERK_DOMAIN", "clerk.amakaflow.test"),
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
            ("OPENAI_API_KEY", "sk-test"),
            ("ALLOWED_ORIGINS", ORIGIN),
            ("INTERNAL_API_KEY", "an-internal-key-for-the-production-test"),
            ("ADMIN_API_KEY", "an-admin-key-for-the-production-test-000000"),
            ("METRICS_TOKEN", "a-metrics-token-for-the-production-test"),
            ("JWT_SECRET", MOBILE_SECRET),
            // The test plugins are unsigned; production allows `warn`.
            ("PLUGIN_SIGNATURES", "warn"),
            // 32 bytes of base64 (production refuses the public development key).
            ("PLUGIN_SECRETS_KEY", "c2VjcmV0cy1rZXktb2YtdGhpcnR5LXR3by1ieXRlcyE="),
        ],
        TestDatabase::sqlite().await.unwrap(),
    )
    .await
    .unwrap();
    let (status, body) =
        sessions_with(&production, &[("X-Test-Auth", TEST_AUTH_SECRET), ("X-Test-User-Id", USER)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["detail"], "Test authentication is not allowed in production");
}

/// Serves a route guarded by [`InternalCaller`] over the real state of `server`.
async fn internal_route(state: AppState) -> String {
    let app = Router::new().route("/internal/probe", get(|_: InternalCaller| async { "ok" })).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/internal/probe", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn the_internal_key_is_required_compared_and_configured() {
    let key = "internal-key-0123456789";
    let server = server(None, &[("INTERNAL_API_KEY", key)]).await;
    let url = internal_route(server.state.clone()).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

    let ok = client.get(&url).header("X-Internal-Key", key).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let (status, body) = read(client.get(&url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["header", "x-internal-key"]));
    for wrong in ["internal-key-012345678", "internal-key-0123456789x", "INTERNAL-KEY-0123456789", ""] {
        let (status, body) = read(client.get(&url).header("X-Internal-Key", wrong).send().await.unwrap()).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, json!({"detail": "Invalid internal API key"})), "{wrong:?}");
    }

    // Staging has no default key: until one is set, internal routes are unavailable.
    let unset = server_without_internal_key().await;
    let url = internal_route(unset.state.clone()).await;
    let (status, body) = read(client.get(&url).header("X-Internal-Key", "anything").send().await.unwrap()).await;
    assert_eq!((status, body), (StatusCode::SERVICE_UNAVAILABLE, json!({"detail": "Internal API key not configured"})));
}

async fn server_without_internal_key() -> TestServer {
    TestServer::start(&[("ENVIRONMENT", "staging")], TestDatabase::sqlite().await.unwrap()).await.unwrap()
}
