//! Liveness, readiness (with the database really going away), CORS and in-process shutdown.

use std::time::Duration;

use end_to_end::poll::poll_until;
use end_to_end::server::TestServer;
use end_to_end::tcp_proxy::{TcpProxy, postgres_address, through};
use serde_json::json;
use store::StoreOptions;

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
    // The pool reconnects on its own: only the endpoint tells when.
    poll_until(Duration::from_secs(30), "readiness returning once the database is back", async || {
        let (status, body) = ready().await;
        if status == StatusCode::OK { Ok(()) } else { Err(format!("{status} {body}")) }
    })
    .await;
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
