//! `navigate_to_page`: the model asks the client app to show one of its pages. No service is
//! called: the result is the navigation instruction (`{"action": "navigate", "page": …}`) the web
//! and mobile clients act on when they see it in `function_result`.

use amakaflow_tool_sdk::prelude::*;
use schemars::{Schema, json_schema};

/// The pages the clients know.
const PAGES: [&str; 5] = ["home", "library", "calendar", "workout", "settings"];

#[derive(Deserialize)]
struct NavigateArgs {
    page: Option<String>,
    workout_id: Option<Value>,
}

fn navigate_schema() -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "page": {
                "type": "string",
                "enum": ["home", "library", "calendar", "workout", "settings"],
                "description": "The page to open"
            },
            "workout_id": {
                "type": "string",
                "description": "The workout to open (needed when page is 'workout')"
            }
        },
        "required": ["page"]
    })
}

fn navigate_to_page(_ctx: &Context, args: NavigateArgs) -> Result<PyJson, ToolError> {
    let page = args.page.unwrap_or_else(|| "home".to_string());
    if !PAGES.contains(&page.as_str()) {
        return Err(ToolError::validation(format!("Unknown page '{page}'. Valid pages: {}", PAGES.join(", "))));
    }
    let mut nav = json!({"action": "navigate", "page": page});
    if let Some(workout_id) = args.workout_id.filter(pyfmt::truthy) {
        nav["workout_id"] = workout_id;
    }
    Ok(PyJson(nav))
}

fn plugin() -> Plugin {
    Plugin::new().function_with_schema(
        "navigate_to_page",
        "Take the user to a page of the app (home, library, calendar, a workout, settings).",
        navigate_schema,
        navigate_to_page,
    )
}

amakaflow_tool_sdk::export_plugin!(plugin);
