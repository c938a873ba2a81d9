//! The embedding-search plugin: search_workout_library searches the caller's indexed workouts
//! semantically (query embedded with OpenAI, key added by the host), and falls back to mapper-api's
//! keyword search when nothing is indexed, the embedding fails or nothing is similar enough.

use host::embeddings::Workouts;
use serde_json::{Value, json};
use stand_ins::openai::Failure;
use store::embeddings::SourceTable;

use crate::support::*;

fn listed(id: &str, title: &str) -> String {
    format!(
        r#"{{"workout_id": "{id}", "title": "{title}", "exercise_count": null, "duration_minutes": null, "difficulty": null}}"#
    )
}

fn results(items: &[String]) -> String {
    format!(r#"{{"type": "search_results", "workouts": [{}]}}"#, items.join(", "))
}

/// Indexes workouts for two users through the embeddings pipeline.
async fn index(t: &Tools) {
    let workouts = vec![
        json!({"id": "w-legs", "profile_id": USER, "title": "Leg Day", "description": "Squats"}),
        json!({"id": "w-cardio", "profile_id": USER, "title": "Quick Cardio", "description": "Bike intervals"}),
        json!({"id": "w-other", "profile_id": OTHER_USER, "title": "Leg Day", "description": "Squats"}),
    ];
    let inline = Workouts::Inline {
        workouts: workouts.into_iter().map(|w| w.as_object().unwrap().clone()).collect(),
        ids: None,
    };
    let report = t.embeddings.pipeline.generate(SourceTable::Workouts, inline).await.expect("generate");
    assert_eq!(report.total_embedded, 3);
    t.openai.clear_requests();
}

#[tokio::test]
async fn without_indexed_workouts_the_mapper_keyword_search_answers() {
    let t = Tools::start().await;
    t.mapper.add_workout(USER, json!({"id": "w-legs", "title": "Leg Day", "description": "Squats"}));
    t.mapper.add_workout(USER, json!({"id": "w-cardio", "title": "Quick Cardio", "description": "Bike"}));
    t.mapper.add_workout(OTHER_USER, json!({"id": "w-other", "title": "Leg Day", "description": "Squats"}));
    let text = t.ok("search_workout_library", json!({"query": "leg day", "limit": 25})).await;
    assert_eq!(text, results(&[listed("w-legs", "Leg Day")]));
    assert_request(&only_request(&t.mapper), "GET", "/workouts/search", Some("q=leg%20day&limit=10"));
    assert!(t.openai.requests().is_empty(), "nothing indexed: no embedding is computed");

    t.mapper.clear_requests();
    assert_eq!(
        t.ok("search_workout_library", json!({"query": "swimming"})).await,
        r#"{"type": "search_results", "workouts": []}"#
    );
    assert_eq!(only_request(&t.mapper).query.as_deref(), Some("q=swimming&limit=5"));
}

#[tokio::test]
async fn indexed_workouts_are_searched_semantically_for_the_caller_only() {
    let t = Tools::start().await;
    index(&t).await;
    let text = t.ok("search_workout_library", json!({"query": "leg day squats"})).await;
    assert_eq!(text, results(&[listed("w-legs", "Leg Day")]), "the other user's identical workout is never found");
    assert!(t.mapper.requests().is_empty(), "the semantic search needs no mapper call");

    let requests = t.openai.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", t.openai.api_key()).as_str()),
        "the host adds the key"
    );
    assert_eq!(
        request.json(),
        json!({"model": "text-embedding-3-small", "input": "leg day squats", "encoding_format": "float"})
    );

    let other = t.call_as(OTHER_USER, "search_workout_library", json!({"query": "leg day squats"})).await;
    assert_eq!(ok(&other, "search"), results(&[listed("w-other", "Leg Day")]));
    assert!(t.mapper.requests().is_empty(), "every search above had a semantic match");
}

#[tokio::test]
async fn without_a_semantic_match_the_keyword_search_answers() {
    let t = Tools::start().await;
    index(&t).await;
    // Only in mapper's library (not indexed yet): the keyword search finds it by its words.
    t.mapper.add_workout(USER, json!({"id": "w-swim", "title": "Swimming Pool Laps", "description": "Freestyle"}));
    t.mapper.add_workout(OTHER_USER, json!({"id": "w-swim-2", "title": "Swimming", "description": "Pool"}));
    let text = t.ok("search_workout_library", json!({"query": "swimming pool", "limit": 3})).await;
    assert_eq!(text, results(&[listed("w-swim", "Swimming Pool Laps")]));
    assert_eq!(t.openai.requests().len(), 1, "the semantic search ran first");
    assert_request(&only_request(&t.mapper), "GET", "/workouts/search", Some("q=swimming%20pool&limit=3"));

    // Neither search finds anything: an empty list, after both were asked.
    t.mapper.clear_requests();
    assert_eq!(
        t.ok("search_workout_library", json!({"query": "rowing machine"})).await,
        r#"{"type": "search_results", "workouts": []}"#
    );
    assert_eq!(only_request(&t.mapper).query.as_deref(), Some("q=rowing%20machine&limit=5"));
}

#[tokio::test]
async fn a_failed_embedding_falls_back_to_the_keyword_search() {
    let t = Tools::start().await;
    index(&t).await;
    t.mapper.add_workout(USER, json!({"id": "w-legs", "title": "Leg Day", "description": "Squats"}));
    t.openai.fail_next(Failure::Status(500), 1);
    let text = t.ok("search_workout_library", json!({"query": "leg"})).await;
    assert_eq!(text, results(&[listed("w-legs", "Leg Day")]));
    assert_request(&only_request(&t.mapper), "GET", "/workouts/search", Some("q=leg&limit=5"));
    t.openai.fail_next(Failure::Malformed, 1);
    t.ok("search_workout_library", json!({"query": "leg"})).await;
    assert_eq!(t.mapper.requests().len(), 2);
}

#[tokio::test]
async fn the_user_token_never_reaches_openai() {
    let t = Tools::start().await;
    index(&t).await;
    t.ok("search_workout_library", json!({"query": "cardio"})).await;
    let request = &t.openai.requests()[0];
    assert_ne!(request.header("authorization"), Some(token(USER).as_str()));
    let body: Value = request.json();
    assert!(!body.to_string().contains(USER));
}
