//! The navigation plugin: navigate_to_page returns the instruction the clients follow, and calls
//! no service.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn navigate_to_page_returns_the_navigation_instruction() {
    let t = Tools::start().await;
    assert_eq!(
        t.ok("navigate_to_page", json!({"page": "workout", "workout_id": "w-legs"})).await,
        r#"{"action": "navigate", "page": "workout", "workout_id": "w-legs"}"#
    );
    assert_eq!(
        t.ok("navigate_to_page", json!({"page": "calendar"})).await,
        r#"{"action": "navigate", "page": "calendar"}"#
    );
    assert_eq!(
        t.ok("navigate_to_page", json!({"page": "library", "workout_id": ""})).await,
        r#"{"action": "navigate", "page": "library"}"#
    );
    t.fails("navigate_to_page", json!({"page": "admin"}), "invalid_arguments").await;
    t.fails("navigate_to_page", json!({}), "invalid_arguments").await;
    assert_eq!(t.downstream_requests(), 0);
}
