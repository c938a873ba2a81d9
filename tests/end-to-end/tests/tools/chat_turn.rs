//! A chat turn that uses the tools: the stand-in Claude calls `search_workout_library`, then
//! `add_workout_to_calendar`, and the client receives the right `function_call` and
//! `function_result` events, over the real service (`POST /chat/stream`) with the real plugins, the
//! embeddings index and the downstream stand-ins.

use std::time::Duration;

use end_to_end::plugins::PluginsDir;
use end_to_end::server::{TestServer, as_test_user};
use end_to_end::sse_client::read_stream;
use end_to_end::tool_world::PLUGINS;
use serde_json::{Value, json};
use stand_ins::anthropic::{Reply, StandIn};
use stand_ins::downstream::{Downstream, Service};
use stand_ins::openai::OpenAiStandIn;
use store::testing::TestDatabase;

const INTERNAL_KEY: &str = "internal-key-of-the-chat-turn-test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_searches_the_library_then_schedules_the_workout() {
    let anthropic = StandIn::start().await;
    let openai = OpenAiStandIn::start().await;
    let mapper = Downstream::start(Service::Mapper).await;
    let calendar = Downstream::start(Service::Calendar).await;
    let plugins = PluginsDir::new();
    for plugin in PLUGINS {
        plugins.add(plugin);
    }
    let (anthropic_url, openai_url, openai_key, mapper_url, calendar_url) =
        (anthropic.url(), openai.url(), openai.api_key(), mapper.url(), calendar.url());
    let plugins_dir = plugins.path().to_string_lossy().into_owned();
    let cache = std::env::temp_dir().join("amakaflow-tools-suite-cache").to_string_lossy().into_owned();
    let db = TestDatabase::sqlite().await.expect("database");
    let server = TestServer::start(
        &[
            ("ANTHROPIC_BASE_URL", anthropic_url.as_str()),
            ("ANTHROPIC_API_KEY", "sk-ant-tools-suite"),
            ("OPENAI_BASE_URL", openai_url.as_str()),
            ("OPENAI_API_KEY", openai_key.as_str()),
            ("MAPPER_API_URL", mapper_url.as_str()),
            ("CALENDAR_API_URL", calendar_url.as_str()),
            ("INTERNAL_API_KEY", INTERNAL_KEY),
            ("PLUGINS_DIR", plugins_dir.as_str()),
            ("PLUGIN_CACHE_DIR", cache.as_str()),
        ],
        db,
    )
    .await
    .expect("server starts");
    server.state.tools.wait_ready().await;
    let user = "user_chat_tools_1";

    // The user's library is indexed through the internal endpoint, as mapper-api's webhook would.
    let indexed = server
        .client()
        .post(server.url("/internal/embeddings/generate"))
        .header("X-Internal-Key", INTERNAL_KEY)
        .json(&json!({"workouts": [
            {"id": "w-legs", "profile_id": user, "title": "Leg Day", "description": "Squats and lunges"},
            {"id": "w-swim", "profile_id": user, "title": "Pool Intervals", "description": "Swimming"},
        ]}))
        .send()
        .await
        .expect("generate");
    assert_eq!(indexed.status(), 200);

    anthropic.push(Reply::text("Let me look.").and_tool_use(
        "toolu_search",
        "search_workout_library",
        r#"{"query": "leg day squats"}"#,
    ));
    anthropic.push(Reply::tool_use(
        "toolu_schedule",
        "add_workout_to_calendar",
        r#"{"workout_id": "w-legs", "date": "2026-03-02", "time": "06:30"}"#,
    ));
    anthropic.push(Reply::text("Done: Leg Day is on your calendar."));

    let request = as_test_user(server.client().post(server.url("/chat/stream")), user)
        .json(&json!({"message": "Schedule my leg day for Monday 6:30"}));
    let t = read_stream(request, Duration::from_secs(30)).await.expect("stream");

    assert_eq!(
        t.shape(),
        [
            "message_start",
            "content_delta",
            "function_call",
            "function_result",
            "function_call",
            "function_result",
            "content_delta",
            "message_end"
        ]
    );
    let results: Vec<&Value> = t.all("function_result").iter().map(|e| &e.data).collect();
    assert_eq!(
        results[0],
        &json!({"tool_use_id": "toolu_search", "name": "search_workout_library",
                "result": r#"{"type": "search_results", "workouts": [{"workout_id": "w-legs", "title": "Leg Day", "exercise_count": null, "duration_minutes": null, "difficulty": null}]}"#})
    );
    assert_eq!(
        results[1],
        &json!({"tool_use_id": "toolu_schedule", "name": "add_workout_to_calendar", "result": "Added workout to calendar on 2026-03-02 at 06:30"})
    );
    // The calendar got the caller's id (a test-auth caller has no token to forward).
    let scheduled = calendar.requests();
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0].header("x-user-id"), Some(user));
    assert_eq!(
        scheduled[0].json(),
        json!({"workout_id": "w-legs", "scheduled_date": "2026-03-02", "scheduled_time": "06:30"})
    );
    assert!(mapper.requests().is_empty(), "the indexed library answered the search");
    // Claude received each result as the tool_result of its call.
    let third = &anthropic.requests()[2];
    let tool_result = &third.json()["messages"][4]["content"][0];
    assert_eq!(tool_result["tool_use_id"], "toolu_schedule");
    assert_eq!(tool_result["content"], "Added workout to calendar on 2026-03-02 at 06:30");
}
