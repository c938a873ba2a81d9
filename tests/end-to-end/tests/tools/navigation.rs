//! The navigation plugin: navigate_to_page returns the instruction the clients follow, and calls
//! no service; in Rust (served) and in its JavaScript port (`plugins/examples/navigation-js`).

use end_to_end::tool_world::{Patience, Ports};
use serde_json::json;
use store::Backend;

use crate::support::*;

#[tokio::test]
async fn navigate_to_page_returns_the_navigation_instruction() {
    navigate_to_page_returns_the_navigation_instruction_in(Ports::Rust).await
}

#[tokio::test]
async fn navigate_to_page_ported_to_javascript_returns_the_same_instruction() {
    navigate_to_page_returns_the_navigation_instruction_in(Ports::PythonAndJs).await
}

async fn navigate_to_page_returns_the_navigation_instruction_in(ports: Ports) {
    let t = Tools::start_ports(Backend::Sqlite, Patience::ANSWERING_SERVICES, ports).await;
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
