//! `navigate_to_page`: the model asks the client app to show one of its pages. No service is
//! called: the result is the navigation instruction (`{"action": "navigate", "page": …}`) the web
//! and mobile clients act on when they see it in `function_result`.

use amakaflow_tool_sdk::compat::PyJson;
use amakaflow_tool_sdk::prelude::*;

/// The pages the clients know.
const PAGES: [&str; 5] = ["home", "library", "calendar", "workout", "settings"];

#[derive(Deserialize, JsonSchema)]
struct NavigateArgs {
    /// The page to open
    #[schemars(extend("enum" = PAGES))]
    page: String,
    /// The workout to open (needed when page is 'workout')
    workout_id: Option<String>,
}

fn navigate_to_page(_ctx: &Context, args: NavigateArgs) -> Result<PyJson, ToolError> {
    let page = args.page;
    if !PAGES.contains(&page.as_str()) {
        return Err(ToolError::validation(format!("Unknown page '{page}'. Valid pages: {}", PAGES.join(", "))));
    }
    let mut nav = json!({"action": "navigate", "page": page});
    if let Some(workout_id) = args.workout_id.filter(|id| !id.is_empty()) {
        nav["workout_id"] = json!(workout_id);
    }
    Ok(PyJson(nav))
}

fn plugin() -> Plugin {
    Plugin::new().function(
        "navigate_to_page",
        "Take the user to a page of the app (home, library, calendar, a workout, settings).",
        navigate_to_page,
    )
}

amakaflow_tool_sdk::export_plugin!(plugin);

#[cfg(test)]
mod tests {
    use amakaflow_tool_sdk::testing::assert_schemas_match;

    #[test]
    fn derived_schemas_are_the_original_ones() {
        assert_schemas_match(&super::plugin(), concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas"));
    }
}
