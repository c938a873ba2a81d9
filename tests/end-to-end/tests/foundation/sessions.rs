//! `GET /chat/sessions`, `GET /chat/sessions/{id}/messages`, `DELETE /chat/sessions/{id}` over
//! HTTP, on both backends.

use end_to_end::server::TestServer;
use serde_json::json;
use store::{NewMessage, Role};
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
        for bad in ["?before=not-a-uuid", "?limit=0", "?limit=201", "?limit=abc", "?limit=99999999999999999999999"] {
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
        let messages = server.get_as(ALICE, &format!("/chat/sessions/{}/messages", doomed.id)).send().await.unwrap();
        assert_eq!(messages.status(), StatusCode::NOT_FOUND);
    }
}
