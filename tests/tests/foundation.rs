//! The service foundation, end to end against real servers: authentication (a real JWKS server on
//! loopback), quotas and flags, the sessions API, HTTP input handling, health and CORS. Everything
//! that touches storage runs on SQLite and on the local Postgres.

use chat_store::testing::{BACKENDS, TestDatabase};
use chat_store::{Backend, Store};
use chat_tests::server::read_json as read;
use reqwest::StatusCode;
use serde_json::Value;

async fn database(backend: Backend) -> TestDatabase {
    TestDatabase::new(backend).await.unwrap_or_else(|e| panic!("{backend:?} test database: {e}"))
}

mod auth {
    //! Who may call: Clerk session tokens against a real JWKS server, mobile pairing tokens, API
    //! keys, the test bypass, and the internal key.

    use std::time::Duration;

    use axum::Router;
    use axum::routing::get;
    use chat_api::app::AppState;
    use chat_api::auth::InternalCaller;
    use chat_tests::clerk::{ClerkStandIn, mint_mobile};
    use chat_tests::server::{TEST_AUTH_SECRET, TestServer};
    use serde_json::json;

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
                format!(
                    "{}.{}.{}",
                    parts[0],
                    clerk.mint("user_2mallory", json!({})).split('.').nth(1).unwrap(),
                    parts[2]
                ),
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
            (
                "expired",
                mint_mobile(MOBILE_SECRET, USER, json!({"exp": chrono::Utc::now().timestamp() - 60})),
                "expired",
            ),
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
                ("JWT_SECRET", MOBILE_SECRET),
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
            assert_eq!(
                (status, body),
                (StatusCode::FORBIDDEN, json!({"detail": "Invalid internal API key"})),
                "{wrong:?}"
            );
        }

        // Staging has no default key: until one is set, internal routes are unavailable.
        let unset = server_without_internal_key().await;
        let url = internal_route(unset.state.clone()).await;
        let (status, body) = read(client.get(&url).header("X-Internal-Key", "anything").send().await.unwrap()).await;
        assert_eq!(
            (status, body),
            (StatusCode::SERVICE_UNAVAILABLE, json!({"detail": "Internal API key not configured"}))
        );
    }

    async fn server_without_internal_key() -> TestServer {
        TestServer::start(&[("ENVIRONMENT", "staging")], TestDatabase::sqlite().await.unwrap()).await.unwrap()
    }
}

mod quota {
    //! The monthly message quota at the edge: atomic reservation under contention, refunds, the
    //! month boundary, and the tier and chat gate read from feature flags.

    use chat_api::config::QuotaConfig;
    use chat_api::quota::{self, UNLIMITED, limit_for};
    use chat_store::Period;
    use chat_store::flags::FlagScope;
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::json;

    use super::*;

    const LIMITS: QuotaConfig = QuotaConfig { free: 50, paid: 500 };

    async fn reserve_many(
        store: &Store,
        user: &str,
        n: usize,
        at: DateTime<Utc>,
    ) -> Vec<Result<quota::Admitted, quota::Exceeded>> {
        let flags = store.feature_flags(user).await.unwrap();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (store, flags, user) = (store.clone(), flags.clone(), user.to_string());
                tokio::spawn(async move { quota::reserve(&store, &LIMITS, &flags, &user, at).await.unwrap() })
            })
            .collect();
        futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_hundred_concurrent_reserves_admit_exactly_the_limit() {
        for backend in BACKENDS {
            let db = database(backend).await;
            let now = Utc::now();
            let outcomes = reserve_many(&db.store, "user_racer", 200, now).await;
            let mut admitted: Vec<i64> = outcomes.iter().filter_map(|o| o.as_ref().ok().map(|a| a.usage)).collect();
            admitted.sort_unstable();
            assert_eq!(admitted, (1..=50).collect::<Vec<_>>(), "{backend:?}: each admitted reserve saw its own count");
            let rejected: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
            assert_eq!(rejected.len(), 150, "{backend:?}");
            for r in rejected {
                assert_eq!((r.usage, r.limit), (50, 50), "{backend:?}");
                assert_eq!(r.retry_after, Period::of(now).seconds_until_reset(now));
            }
            assert_eq!(db.store.message_usage("user_racer", Period::of(now)).await.unwrap(), 50, "{backend:?}");
            assert_eq!(db.store.message_usage("user_other", Period::of(now)).await.unwrap(), 0, "{backend:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn refunds_racing_reserves_keep_the_count_exact_and_within_bounds() {
        for backend in BACKENDS {
            let db = database(backend).await;
            let now = Utc::now();
            let first = reserve_many(&db.store, "user_busy", 50, now).await;
            assert!(first.iter().all(Result::is_ok));
            let admitted = first[0].unwrap();
            let refunds: Vec<_> = (0..30)
                .map(|_| {
                    let store = db.store.clone();
                    tokio::spawn(async move { quota::refund(&store, "user_busy", &admitted).await.unwrap() })
                })
                .collect();
            let reserves = reserve_many(&db.store, "user_busy", 30, now);
            let (_, reserves) = futures::join!(futures::future::join_all(refunds), reserves);
            let readmitted = reserves.iter().filter(|r| r.is_ok()).count() as i64;
            let usage = db.store.message_usage("user_busy", Period::of(now)).await.unwrap();
            assert_eq!(usage, 50 - 30 + readmitted, "{backend:?}: every refund and admission counted once");
            assert!(usage <= 50, "{backend:?}");
        }
    }

    #[tokio::test]
    async fn refunds_never_go_below_zero() {
        for backend in BACKENDS {
            let db = database(backend).await;
            let now = Utc::now();
            let admitted: Vec<_> =
                reserve_many(&db.store, "user_refund", 2, now).await.into_iter().map(Result::unwrap).collect();
            for _ in 0..5 {
                quota::refund(&db.store, "user_refund", &admitted[0]).await.unwrap();
            }
            assert_eq!(db.store.message_usage("user_refund", Period::of(now)).await.unwrap(), 0, "{backend:?}");
            // A refund for a user who never reserved creates nothing.
            quota::refund(&db.store, "user_never", &admitted[0]).await.unwrap();
            assert_eq!(db.store.message_usage("user_never", Period::of(now)).await.unwrap(), 0);
            let again = reserve_many(&db.store, "user_refund", 1, now).await;
            assert_eq!(again[0].unwrap().usage, 1, "{backend:?}: counting restarts from zero");
        }
    }

    #[tokio::test]
    async fn the_month_boundary_resets_usage() {
        for backend in BACKENDS {
            let db = database(backend).await;
            let config = QuotaConfig { free: 3, paid: 10 };
            let flags = db.store.feature_flags("user_month").await.unwrap();
            let january_end = Utc.with_ymd_and_hms(2026, 1, 31, 23, 59, 58).unwrap();
            let mut january = Vec::new();
            for _ in 0..3 {
                january.push(
                    quota::reserve(&db.store, &config, &flags, "user_month", january_end).await.unwrap().unwrap(),
                );
            }
            let exceeded =
                quota::reserve(&db.store, &config, &flags, "user_month", january_end).await.unwrap().unwrap_err();
            assert_eq!((exceeded.usage, exceeded.limit, exceeded.retry_after), (3, 3, 2), "{backend:?}");

            let february_start = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
            let february =
                quota::reserve(&db.store, &config, &flags, "user_month", february_start).await.unwrap().unwrap();
            assert_eq!(february.usage, 1, "{backend:?}: a new month starts from zero");
            let after =
                quota::reserve(&db.store, &config, &flags, "user_month", february_start).await.unwrap().unwrap();
            assert_eq!(after.usage, 2);

            // A January turn that fails in February gives its unit back to January.
            quota::refund(&db.store, "user_month", &january[2]).await.unwrap();
            assert_eq!(db.store.message_usage("user_month", Period::of(january_end)).await.unwrap(), 2);
            assert_eq!(db.store.message_usage("user_month", Period::of(february_start)).await.unwrap(), 2);

            // December rolls into the next year.
            let december = Utc.with_ymd_and_hms(2026, 12, 15, 12, 0, 0).unwrap();
            for _ in 0..3 {
                quota::reserve(&db.store, &config, &flags, "user_month", december).await.unwrap().unwrap();
            }
            let exceeded =
                quota::reserve(&db.store, &config, &flags, "user_month", december).await.unwrap().unwrap_err();
            assert_eq!(
                exceeded.retry_after,
                (Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap() - december).num_seconds()
            );
        }
    }

    #[tokio::test]
    async fn the_tier_comes_from_flags_and_the_user_flag_wins() {
        for backend in BACKENDS {
            let db = database(backend).await;
            let store = &db.store;
            let config = QuotaConfig { free: 1, paid: 2 };
            store.set_feature_flag("chat_rate_limit_tier", FlagScope::Global, json!("paid")).await.unwrap();
            store.set_feature_flag("chat_rate_limit_tier", FlagScope::User("user_free"), json!("free")).await.unwrap();
            store
                .set_feature_flag("chat_rate_limit_tier", FlagScope::User("user_vip"), json!("unlimited"))
                .await
                .unwrap();

            let flags = |user: &'static str| async move { store.feature_flags(user).await.unwrap() };
            assert_eq!(limit_for(&flags("user_plain").await, &config), 2, "{backend:?}: global tier");
            assert_eq!(limit_for(&flags("user_free").await, &config), 1, "{backend:?}: the user's flag wins");
            assert_eq!(limit_for(&flags("user_vip").await, &config), UNLIMITED);

            let now = Utc::now();
            let free = flags("user_free").await;
            assert!(quota::reserve(store, &config, &free, "user_free", now).await.unwrap().is_ok());
            let exceeded = quota::reserve(store, &config, &free, "user_free", now).await.unwrap().unwrap_err();
            assert_eq!(exceeded.limit, 1);
            let paid = flags("user_plain").await;
            for _ in 0..2 {
                assert!(quota::reserve(store, &config, &paid, "user_plain", now).await.unwrap().is_ok());
            }
            assert!(quota::reserve(store, &config, &paid, "user_plain", now).await.unwrap().is_err());

            // Changing a flag replaces it.
            store.set_feature_flag("chat_rate_limit_tier", FlagScope::User("user_free"), json!("paid")).await.unwrap();
            assert_eq!(limit_for(&flags("user_free").await, &config), 2, "{backend:?}");
        }
    }

    #[tokio::test]
    async fn the_chat_gate_follows_the_flags() {
        for backend in BACKENDS {
            let db = database(backend).await;
            let store = &db.store;
            assert!(store.feature_flags("user_a").await.unwrap().chat_allowed(), "{backend:?}: open by default");
            store.set_feature_flag("chat_beta_period", FlagScope::Global, json!(true)).await.unwrap();
            store.set_feature_flag("chat_beta_access", FlagScope::User("user_beta"), json!(true)).await.unwrap();
            assert!(!store.feature_flags("user_a").await.unwrap().chat_allowed(), "{backend:?}");
            assert!(store.feature_flags("user_beta").await.unwrap().chat_allowed(), "{backend:?}");
            store.set_feature_flag("chat_enabled", FlagScope::Global, json!(false)).await.unwrap();
            assert!(!store.feature_flags("user_beta").await.unwrap().chat_allowed(), "{backend:?}");
            store.set_feature_flag("chat_enabled", FlagScope::User("user_beta"), json!(true)).await.unwrap();
            assert!(store.feature_flags("user_beta").await.unwrap().chat_allowed(), "{backend:?}");
        }
    }
}

mod storage {
    //! The rest of the repository API on both backends: per-function hourly limits, tool state,
    //! message rows, migrations over the original Supabase tables.

    use chat_store::function_limits::hour_window;
    use chat_store::{NewMessage, Role};
    use chrono::{Duration, TimeZone, Utc};
    use serde_json::json;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn function_limits_admit_exactly_the_limit_per_hour() {
        for backend in BACKENDS {
            let db = database(backend).await;
            let at = Utc.with_ymd_and_hms(2026, 3, 10, 14, 59, 0).unwrap();
            let hits: Vec<_> = (0..12)
                .map(|_| {
                    let store = db.store.clone();
                    tokio::spawn(
                        async move { store.hit_function_limit("user_sync", "sync_strava", 3, at).await.unwrap() },
                    )
                })
                .collect();
            let decisions: Vec<_> = futures::future::join_all(hits).await.into_iter().map(Result::unwrap).collect();
            assert_eq!(decisions.iter().filter(|d| d.allowed).count(), 3, "{backend:?}");
            for d in decisions.iter().filter(|d| !d.allowed) {
                assert_eq!((d.count, d.limit, d.retry_after_seconds), (3, 3, 60), "{backend:?}");
            }
            let other = db.store.hit_function_limit("user_sync", "sync_garmin", 3, at).await.unwrap();
            assert!(other.allowed && other.count == 1, "{backend:?}: functions are counted apart");
            let next_hour =
                db.store.hit_function_limit("user_sync", "sync_strava", 3, at + Duration::minutes(1)).await.unwrap();
            assert!(next_hour.allowed && next_hour.count == 1, "{backend:?}: a new hour starts from zero");
            assert_eq!(hour_window(at + Duration::minutes(1)), Utc.with_ymd_and_hms(2026, 3, 10, 15, 0, 0).unwrap());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn tool_state_is_scoped_expires_and_is_taken_once() {
        for backend in BACKENDS {
            let db = database(backend).await;
            let s = &db.store;
            let now = Utc::now();
            let later = now + Duration::minutes(15);
            s.tool_state_put("mapper", "user_a", "preview:1", "{\"w\":1}", later).await.unwrap();
            assert_eq!(
                s.tool_state_get("mapper", "user_a", "preview:1", now).await.unwrap().as_deref(),
                Some("{\"w\":1}")
            );
            assert_eq!(
                s.tool_state_get("mapper", "user_b", "preview:1", now).await.unwrap(),
                None,
                "{backend:?}: per user"
            );
            assert_eq!(
                s.tool_state_get("calendar", "user_a", "preview:1", now).await.unwrap(),
                None,
                "{backend:?}: per plugin"
            );
            assert_eq!(
                s.tool_state_get("mapper", "user_a", "preview:1", later).await.unwrap(),
                None,
                "{backend:?}: expired"
            );

            s.tool_state_put("mapper", "user_a", "preview:1", "{\"w\":2}", later).await.unwrap();
            assert_eq!(
                s.tool_state_get("mapper", "user_a", "preview:1", now).await.unwrap().as_deref(),
                Some("{\"w\":2}")
            );

            let takes: Vec<_> = (0..10)
                .map(|_| {
                    let store = s.clone();
                    tokio::spawn(
                        async move { store.tool_state_take("mapper", "user_a", "preview:1", now).await.unwrap() },
                    )
                })
                .collect();
            let taken: Vec<_> = futures::future::join_all(takes).await.into_iter().filter_map(Result::unwrap).collect();
            assert_eq!(taken, vec!["{\"w\":2}".to_string()], "{backend:?}: exactly one take wins");

            s.tool_state_put("mapper", "user_a", "old", "x", now - Duration::seconds(1)).await.unwrap();
            s.tool_state_put("mapper", "user_a", "fresh", "y", later).await.unwrap();
            assert_eq!(s.tool_state_purge_expired(now).await.unwrap(), 1, "{backend:?}");
            s.tool_state_delete("mapper", "user_a", "fresh").await.unwrap();
            s.tool_state_delete("mapper", "user_a", "missing").await.unwrap();
            assert_eq!(s.tool_state_get("mapper", "user_a", "fresh", now).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn messages_keep_their_fields_and_move_the_session() {
        for backend in BACKENDS {
            let db = database(backend).await;
            let s = &db.store;
            let session = s.create_session("user_a", "New Chat").await.unwrap();
            let calls = json!([{"id": "toolu_1", "name": "search_workout_library", "input": {"query": "légs"}, "result": "[]"}]);
            s.insert_message(&NewMessage {
                session_id: session.id,
                user_id: "user_a".into(),
                role: Some(Role::Assistant),
                content: Some("Here — ünïcode ✓".into()),
                tool_calls: Some(calls.clone()),
                model: Some("claude-sonnet-4-20250514".into()),
                latency_ms: Some(1234),
                input_tokens: Some(100),
                output_tokens: Some(20),
                cache_read_input_tokens: Some(7),
                cache_creation_input_tokens: Some(3),
                incomplete: true,
                ..Default::default()
            })
            .await
            .unwrap();
            let page = s.message_page(session.id, 10, None).await.unwrap();
            let m = &page.messages[0];
            assert_eq!(m.role, "assistant");
            assert_eq!(m.content.as_deref(), Some("Here — ünïcode ✓"));
            assert_eq!(m.tool_calls.as_ref().map(|j| &j.0), Some(&calls), "{backend:?}");
            assert_eq!((m.input_tokens, m.output_tokens, m.tokens_used), (Some(100), Some(20), Some(120)));
            assert_eq!((m.cache_read_input_tokens, m.cache_creation_input_tokens), (Some(7), Some(3)));
            assert!(m.incomplete);
            let moved = s.get_session(session.id, "user_a").await.unwrap().unwrap();
            assert!(moved.updated_at > session.updated_at, "{backend:?}: a message moves updated_at");
            assert_eq!(moved.created_at, session.created_at, "{backend:?}: timestamps round-trip exactly");
            s.set_session_title(session.id, "Leg day").await.unwrap();
            assert_eq!(s.get_session(session.id, "user_a").await.unwrap().unwrap().title.as_deref(), Some("Leg day"));
        }
    }

    #[tokio::test]
    async fn migrations_are_idempotent() {
        for backend in BACKENDS {
            let db = database(backend).await;
            db.store.migrate().await.unwrap();
            db.store.migrate().await.unwrap();
            db.store.ping().await.unwrap();
        }
    }

    #[tokio::test]
    async fn migrations_extend_the_original_supabase_tables() {
        use sqlx::Connection;
        // A schema holding the chat tables as the original service's migrations left them.
        let url = chat_store::testing::postgres_url();
        let schema = format!("orig_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        for statement in [
            format!("CREATE SCHEMA {schema}"),
            format!(
                "CREATE TABLE {schema}.chat_sessions (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id text NOT NULL, \
                 title text, metadata jsonb DEFAULT '{{}}', created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now())"
            ),
            format!(
                "CREATE TABLE {schema}.chat_messages (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), \
                 session_id uuid NOT NULL REFERENCES {schema}.chat_sessions (id) ON DELETE CASCADE, user_id text NOT NULL, \
                 role text CHECK (role IN ('user','assistant','system','tool')), content text, tool_calls jsonb, \
                 tool_results jsonb, model text, tokens_used int, latency_ms int, created_at timestamptz DEFAULT now())"
            ),
            format!(
                "INSERT INTO {schema}.chat_sessions (id, user_id, title) VALUES ('8d7c0e0a-3b8e-4c1e-9f57-0c7c1d5a2f10', 'user_old', 'Old chat')"
            ),
        ] {
            sqlx::query(&statement).execute(&mut admin).await.unwrap();
        }
        let options = chat_store::StoreOptions { schema: Some(schema.clone()), ..chat_store::StoreOptions::new(&url) };
        let store = Store::connect(&options).await.unwrap();
        let old = uuid::Uuid::parse_str("8d7c0e0a-3b8e-4c1e-9f57-0c7c1d5a2f10").unwrap();
        assert_eq!(store.get_session(old, "user_old").await.unwrap().unwrap().title.as_deref(), Some("Old chat"));
        store
            .insert_message(&NewMessage {
                session_id: old,
                user_id: "user_old".into(),
                role: Some(Role::Assistant),
                content: Some("reply".into()),
                tool_use_id: None,
                input_tokens: Some(5),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(store.message_page(old, 5, None).await.unwrap().messages[0].input_tokens, Some(5));
        store.close().await;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin).await.unwrap();
    }
}

mod sessions {
    //! `GET /chat/sessions`, `GET /chat/sessions/{id}/messages`, `DELETE /chat/sessions/{id}` over
    //! HTTP, on both backends.

    use chat_store::{NewMessage, Role};
    use chat_tests::server::TestServer;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    const ALICE: &str = "user_alice";
    const BOB: &str = "user_bob_";

    async fn server(backend: Backend) -> TestServer {
        TestServer::start(&[], database(backend).await).await.unwrap()
    }

    async fn add_messages(store: &Store, session: Uuid, user: &str, texts: &[&str]) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for text in texts {
            let message = NewMessage {
                session_id: session,
                user_id: user.into(),
                role: Some(Role::User),
                content: Some(text.to_string()),
                ..Default::default()
            };
            ids.push(store.insert_message(&message).await.unwrap());
        }
        ids
    }

    fn contents(page: &Value) -> Vec<&str> {
        page["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect()
    }

    #[tokio::test]
    async fn sessions_are_listed_most_recently_active_first() {
        for backend in BACKENDS {
            let server = server(backend).await;
            let store = server.store();
            let first = store.create_session(ALICE, "first").await.unwrap();
            store.create_session(ALICE, "second").await.unwrap();
            store.create_session(ALICE, "third").await.unwrap();
            store.create_session(BOB, "bob's").await.unwrap();
            add_messages(store, first.id, ALICE, &["bump"]).await;

            let (status, body) = read(server.get_as(ALICE, "/chat/sessions").send().await.unwrap()).await;
            assert_eq!(status, StatusCode::OK);
            let titles: Vec<&str> = body.as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
            assert_eq!(titles, ["first", "third", "second"], "{backend:?}");
            let item = body[0].as_object().unwrap();
            let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["created_at", "id", "title", "updated_at"], "no user id or internals leak");
            assert!(item["created_at"].as_str().unwrap().ends_with('Z'), "UTC timestamps end in Z");

            let (_, page) = read(server.get_as(ALICE, "/chat/sessions?limit=2&offset=1").send().await.unwrap()).await;
            let titles: Vec<&str> = page.as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
            assert_eq!(titles, ["third", "second"], "{backend:?}");
            let (_, empty) = read(server.get_as(ALICE, "/chat/sessions?offset=3").send().await.unwrap()).await;
            assert_eq!(empty, json!([]));
        }
    }

    #[tokio::test]
    async fn messages_page_backwards_from_the_newest() {
        for backend in BACKENDS {
            let server = server(backend).await;
            let store = server.store();
            let session = store.create_session(ALICE, "chat").await.unwrap();
            let ids = add_messages(store, session.id, ALICE, &["m1", "m2", "m3", "m4", "m5", "m6", "m7"]).await;
            let path = |query: &str| format!("/chat/sessions/{}/messages{query}", session.id);

            let (status, newest) = read(server.get_as(ALICE, &path("?limit=3")).send().await.unwrap()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(contents(&newest), ["m5", "m6", "m7"], "{backend:?}: the newest page, oldest first");
            assert_eq!(newest["has_more"], true);
            let cursor = newest["messages"][0]["id"].as_str().unwrap();
            assert_eq!(cursor, ids[4].to_string());

            let (_, older) =
                read(server.get_as(ALICE, &path(&format!("?limit=3&before={cursor}"))).send().await.unwrap()).await;
            assert_eq!(contents(&older), ["m2", "m3", "m4"], "{backend:?}");
            assert_eq!(older["has_more"], true);
            let cursor = older["messages"][0]["id"].as_str().unwrap();
            let (_, oldest) =
                read(server.get_as(ALICE, &path(&format!("?limit=3&before={cursor}"))).send().await.unwrap()).await;
            assert_eq!(contents(&oldest), ["m1"], "{backend:?}");
            assert_eq!(oldest["has_more"], false);

            let (_, all) = read(server.get_as(ALICE, &path("?limit=7")).send().await.unwrap()).await;
            assert_eq!(contents(&all).len(), 7);
            assert_eq!(all["has_more"], false, "{backend:?}: has_more says whether older messages exist");
            let (_, default) = read(server.get_as(ALICE, &path("")).send().await.unwrap()).await;
            assert_eq!(contents(&default).len(), 7);
            let m = &default["messages"][0];
            for field in ["id", "role", "content", "tool_calls", "tool_results", "tool_use_id", "created_at"] {
                assert!(m.get(field).is_some(), "{field} missing from {m}");
            }

            // Unknown cursors, and cursors from another session, give an empty page.
            let other = store.create_session(ALICE, "other").await.unwrap();
            let foreign = add_messages(store, other.id, ALICE, &["elsewhere"]).await[0];
            for cursor in [Uuid::new_v4(), foreign] {
                let (status, page) =
                    read(server.get_as(ALICE, &path(&format!("?before={cursor}"))).send().await.unwrap()).await;
                assert_eq!((status, page), (StatusCode::OK, json!({"messages": [], "has_more": false})), "{backend:?}");
            }
            for bad in ["?before=not-a-uuid", "?limit=0", "?limit=201", "?limit=abc", "?limit=99999999999999999999999"]
            {
                let (status, body) = read(server.get_as(ALICE, &path(bad)).send().await.unwrap()).await;
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
                assert!(body["detail"][0]["msg"].is_string(), "{bad}: {body}");
            }
        }
    }

    #[tokio::test]
    async fn another_users_session_is_not_found() {
        for backend in BACKENDS {
            let server = server(backend).await;
            let store = server.store();
            let bobs = store.create_session(BOB, "private").await.unwrap();
            add_messages(store, bobs.id, BOB, &["secret"]).await;
            let messages = format!("/chat/sessions/{}/messages", bobs.id);
            let session = format!("/chat/sessions/{}", bobs.id);

            let not_found = (StatusCode::NOT_FOUND, json!({"detail": "Session not found"}));
            assert_eq!(read(server.get_as(ALICE, &messages).send().await.unwrap()).await, not_found, "{backend:?}");
            assert_eq!(read(server.delete_as(ALICE, &session).send().await.unwrap()).await, not_found, "{backend:?}");
            assert_eq!(
                read(server.get_as(ALICE, "/chat/sessions").send().await.unwrap()).await,
                (StatusCode::OK, json!([]))
            );
            // Bob's session survived Alice's delete.
            assert_eq!(store.count_messages(bobs.id).await.unwrap(), 1);
            assert_eq!(read(server.get_as(BOB, &messages).send().await.unwrap()).await.0, StatusCode::OK);

            for id in ["not-a-uuid", "00000000-0000-0000-0000-000000000000", &Uuid::new_v4().to_string()] {
                let (status, _) =
                    read(server.get_as(ALICE, &format!("/chat/sessions/{id}/messages")).send().await.unwrap()).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
                let (status, _) =
                    read(server.delete_as(ALICE, &format!("/chat/sessions/{id}")).send().await.unwrap()).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
            }
        }
    }

    #[tokio::test]
    async fn deleting_a_session_removes_its_messages() {
        for backend in BACKENDS {
            let server = server(backend).await;
            let store = server.store();
            let doomed = store.create_session(ALICE, "doomed").await.unwrap();
            let kept = store.create_session(ALICE, "kept").await.unwrap();
            add_messages(store, doomed.id, ALICE, &["a", "b", "c"]).await;
            add_messages(store, kept.id, ALICE, &["d"]).await;

            let response = server.delete_as(ALICE, &format!("/chat/sessions/{}", doomed.id)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::NO_CONTENT, "{backend:?}");
            assert!(response.bytes().await.unwrap().is_empty());
            assert_eq!(store.count_messages(doomed.id).await.unwrap(), 0, "{backend:?}: the messages went with it");
            assert_eq!(store.count_messages(kept.id).await.unwrap(), 1, "{backend:?}: other sessions are untouched");
            assert!(store.get_session(doomed.id, ALICE).await.unwrap().is_none());

            let again = server.delete_as(ALICE, &format!("/chat/sessions/{}", doomed.id)).send().await.unwrap();
            assert_eq!(again.status(), StatusCode::NOT_FOUND);
            let messages =
                server.get_as(ALICE, &format!("/chat/sessions/{}/messages", doomed.id)).send().await.unwrap();
            assert_eq!(messages.status(), StatusCode::NOT_FOUND);
        }
    }
}

mod http_input {
    //! What a confused or hostile client sends: bad query strings, unknown routes and methods,
    //! huge or undecodable headers, bodies where none belong. Always a 4xx with a JSON reason,
    //! never a 500. (Bad bodies and path segments of every endpoint are the `bad_input` suite's.)

    use chat_tests::server::TestServer;
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
}

mod health {
    //! Liveness, readiness (with the database really going away), CORS and in-process shutdown.

    use std::time::Duration;

    use chat_store::StoreOptions;
    use chat_tests::server::TestServer;
    use chat_tests::tcp_proxy::TcpProxy;
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn liveness_and_readiness_on_both_backends() {
        for backend in BACKENDS {
            let server = TestServer::start(&[], database(backend).await).await.unwrap();
            let live = read(server.client().get(server.url("/health")).send().await.unwrap()).await;
            assert_eq!(live, (StatusCode::OK, json!({"status": "ok", "service": "chat-api"})));
            let (status, ready) = read(server.client().get(server.url("/health/ready")).send().await.unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{backend:?}: {ready}");
            assert_eq!(ready["status"], "ready");
            assert_eq!(ready["service"], "chat-api");
            assert_eq!(ready["checks"]["supabase"], "ok");
        }
    }

    /// `url` with its host and port replaced by `addr`.
    fn through(url: &str, addr: std::net::SocketAddr) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default();
        format!("{scheme}://{userinfo}{addr}/{path}")
    }

    async fn postgres_address(url: &str) -> std::net::SocketAddr {
        let rest = url.split_once("://").unwrap().1;
        let authority = rest.split('/').next().unwrap();
        let host_port = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
        let host_port = if host_port.contains(':') { host_port.to_string() } else { format!("{host_port}:5432") };
        tokio::net::lookup_host(host_port).await.unwrap().next().unwrap()
    }

    #[tokio::test]
    async fn readiness_is_503_while_postgres_is_unreachable_and_recovers() {
        let db = database(Backend::Postgres).await;
        let proxy = TcpProxy::start(postgres_address(&db.url).await).await;
        let options = StoreOptions {
            url: through(&db.url, proxy.addr()),
            run_migrations: false,
            max_connections: 2,
            schema: db.schema.clone(),
        };
        let store = Store::connect(&options).await.unwrap();
        let server = TestServer::start_with_store(&[], store, Some(db)).await.unwrap();
        let ready = || async { read(server.client().get(server.url("/health/ready")).send().await.unwrap()).await };

        assert_eq!(ready().await.0, StatusCode::OK);
        proxy.cut();
        let (status, body) = ready().await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["status"], "not_ready");
        assert_eq!(body["service"], "chat-api");
        assert_eq!(body["checks"]["supabase"], "unavailable");
        // Liveness does not depend on the database.
        assert_eq!(server.client().get(server.url("/health")).send().await.unwrap().status(), StatusCode::OK);
        // A user request fails cleanly, without leaking the cause.
        let (status, body) = read(server.get_as("user_outage", "/chat/sessions").send().await.unwrap()).await;
        assert_eq!((status, body), (StatusCode::INTERNAL_SERVER_ERROR, json!({"detail": "Internal server error"})));

        proxy.restore();
        let mut recovered = false;
        for _ in 0..50 {
            if ready().await.0 == StatusCode::OK {
                recovered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(recovered, "readiness returns once the database is back");
    }

    #[tokio::test]
    async fn readiness_is_503_when_the_sqlite_pool_is_closed() {
        let server = TestServer::start(&[], database(Backend::Sqlite).await).await.unwrap();
        server.store().close().await;
        let (status, body) = read(server.client().get(server.url("/health/ready")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["checks"]["supabase"], "unavailable");
    }

    #[tokio::test]
    async fn cors_preflight_honours_allowed_origins() {
        let allowed = "https://app.amakaflow.test";
        let server = TestServer::start(
            &[("ALLOWED_ORIGINS", &format!("{allowed}, https://other.amakaflow.test"))],
            database(Backend::Sqlite).await,
        )
        .await
        .unwrap();
        let preflight = |origin: &'static str| {
            server
                .client()
                .request(reqwest::Method::OPTIONS, server.url("/chat/sessions"))
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "GET")
                .header("Access-Control-Request-Headers", "authorization, x-api-key")
                .send()
        };
        let ok = preflight("https://app.amakaflow.test").await.unwrap();
        assert!(ok.status().is_success(), "{}", ok.status());
        let h = ok.headers();
        assert_eq!(h["access-control-allow-origin"], allowed);
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert!(h["access-control-allow-methods"].to_str().unwrap().contains("GET"));
        assert!(h["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase().contains("authorization"));

        let refused = preflight("https://evil.example").await.unwrap();
        assert!(refused.headers().get("access-control-allow-origin").is_none(), "a foreign origin gets no CORS grant");

        let simple = server.get_as("user_cors", "/chat/sessions").header("Origin", allowed).send().await.unwrap();
        assert_eq!(simple.headers()["access-control-allow-origin"], allowed);
        let foreign =
            server.get_as("user_cors", "/chat/sessions").header("Origin", "https://evil.example").send().await.unwrap();
        assert!(foreign.headers().get("access-control-allow-origin").is_none());

        let closed = TestServer::start(&[], database(Backend::Sqlite).await).await.unwrap();
        let response = closed
            .client()
            .request(reqwest::Method::OPTIONS, closed.url("/chat/sessions"))
            .header("Origin", allowed)
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await
            .unwrap();
        assert!(response.headers().get("access-control-allow-origin").is_none(), "no ALLOWED_ORIGINS, no grants");
    }

    #[tokio::test]
    async fn graceful_stop_finishes_and_closes_the_listener() {
        let server = TestServer::start(&[], database(Backend::Sqlite).await).await.unwrap();
        let url = server.url("/health");
        let client = server.client().clone();
        assert_eq!(client.get(&url).send().await.unwrap().status(), StatusCode::OK);
        tokio::time::timeout(Duration::from_secs(15), server.stop(Duration::from_millis(200)))
            .await
            .expect("the serve loop returns after shutdown")
            .unwrap();
        let fresh = reqwest::Client::new();
        assert!(fresh.get(&url).send().await.is_err(), "nothing listens after shutdown");
    }
}
