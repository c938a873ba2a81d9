//! `tools/list` and `tools/call` through the Python SDK at both revisions: all 27 tools with their
//! schemas, real calls against the stand-ins as the calling user, failures as `isError` results,
//! and the hourly limit.

use end_to_end::clock_window::{Window, within_one_window};
use serde_json::{Value, json};

use super::clients::run;
use super::{ALICE, BOB, MODES, McpWorld, structured};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_is_listed_with_its_description_and_schema_at_both_revisions() {
    let world = McpWorld::start().await;
    let mut expected: Vec<String> = world.server.state.tools.functions().iter().map(|f| f.name.clone()).collect();
    expected.sort();
    assert_eq!(expected.len(), 27, "the service's tool set");
    for (mode, protocol) in MODES.into_iter().zip(["2026-07-28", "2025-11-25"]) {
        let listed = run("list", &world.mcp_url(), mode, Some(world.bearer(ALICE).as_str()), Value::Null).await;
        let listed = &listed[0];
        assert_eq!(listed["protocol"], protocol);
        let tools = listed["tools"].as_array().unwrap();
        let mut names: Vec<String> = tools.iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
        names.sort();
        assert_eq!(names, expected, "{mode}");
        for tool in tools {
            assert_eq!(tool["schema"]["type"], "object", "{tool}");
            assert!(!tool["description"].as_str().unwrap_or("").is_empty(), "{tool}");
        }
        let navigate = tools.iter().find(|t| t["name"] == "navigate_to_page").unwrap();
        assert!(navigate["schema"]["properties"]["page"].is_object(), "{navigate}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_run_the_real_tools_as_the_signed_in_user() {
    let world = McpWorld::start().await;
    world.mapper.add_workout(ALICE, json!({"id": "w-legs", "title": "Leg Day", "description": "Squats"}));
    world.mapper.add_workout(BOB, json!({"id": "w-bob", "title": "Leg Day", "description": "Squats"}));
    let alice = world.bearer(ALICE);
    for mode in MODES {
        let navigate = json!({"name": "navigate_to_page", "arguments": {"page": "calendar"}});
        let result = run("call", &world.mcp_url(), mode, Some(alice.as_str()), navigate).await.remove(0);
        assert_eq!(result["is_error"], false);
        assert_eq!(result["text"], r#"{"action": "navigate", "page": "calendar"}"#);
        assert_eq!(structured(&result), &json!({"action": "navigate", "page": "calendar"}));

        world.mapper.clear_requests();
        let search = json!({"name": "search_workout_library", "arguments": {"query": "leg day"}});
        let result = run("call", &world.mcp_url(), mode, Some(alice.as_str()), search).await.remove(0);
        assert_eq!(result["is_error"], false, "{result}");
        assert_eq!(
            structured(&result),
            &json!({"type": "search_results", "workouts": [{"workout_id": "w-legs", "title": "Leg Day",
                "exercise_count": null, "duration_minutes": null, "difficulty": null}]}),
            "only Alice's workout"
        );
        // The mapper was asked as Alice, with her own credential, as the chat's calls are.
        let requests = world.mapper.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].header("x-user-id"), Some(ALICE));
        assert_eq!(requests[0].header("authorization"), Some(alice.as_str()));
    }
    // Counted as the chat's calls are, apart by `via`.
    let metrics = world.server.client().get(world.server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let counted = metrics.lines().find(|line| {
        line.starts_with("tool_calls_total{")
            && line.contains(r#"function="navigate_to_page""#)
            && line.contains(r#"via="mcp""#)
    });
    assert!(counted.is_some(), "tool_calls_total of the MCP calls: {metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_failure_is_a_result_with_is_error_and_the_structured_error() {
    let world = McpWorld::start().await;
    for mode in MODES {
        // Garmin sync is behind a feature flag Alice does not have: the plugin refuses.
        let garmin = json!({"name": "sync_garmin", "arguments": {"workout_ids": ["w-1"]}});
        let result = run("call", &world.mcp_url(), mode, Some(world.bearer(ALICE).as_str()), garmin).await.remove(0);
        assert_eq!(result["is_error"], true, "{result}");
        assert_eq!(structured(&result)["code"], "feature_disabled");
        assert_eq!(structured(&result)["error"], true);
        // Arguments that do not match the schema: a tool error the model can correct (2025-11-25 on).
        let invalid = json!({"name": "navigate_to_page", "arguments": {"page": "admin"}});
        let result = run("call", &world.mcp_url(), mode, Some(world.bearer(ALICE).as_str()), invalid).await.remove(0);
        assert_eq!(result["is_error"], true, "{result}");
        assert_eq!(structured(&result)["code"], "invalid_arguments");
    }
    assert!(world.garmin.requests().is_empty(), "nothing reached Garmin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_the_hourly_limit_are_refused_without_running() {
    let world = McpWorld::start_with(&[("MCP_TOOL_CALLS_PER_HOUR", "2")]).await;
    let world = &world;
    within_one_window(Window::Hour, || async move {
        for mode in MODES {
            // A new user per run: the counter of an hour that turned mid-run stays behind.
            let user = format!("user_mcp_limited_{}", uuid::Uuid::new_v4().simple());
            world.calendar.clear_requests();
            let events = json!({"name": "get_calendar_events",
                "arguments": {"start_date": "2026-03-01", "end_date": "2026-03-07"}, "times": 3});
            let results =
                run("calls", &world.mcp_url(), mode, Some(world.bearer(&user).as_str()), events).await.remove(0);
            let results = results.as_array().unwrap();
            assert_eq!(results[0]["is_error"], false, "{results:?}");
            assert_eq!(results[1]["is_error"], false, "{results:?}");
            assert_eq!(results[2]["is_error"], true, "{results:?}");
            assert_eq!(structured(&results[2])["code"], "rate_limit_exceeded");
            assert_eq!(world.calendar.requests().len(), 2, "the refused call never ran");
        }
    })
    .await;
}
