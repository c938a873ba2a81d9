//! Unit tests of plugin code on the native target (`cargo test` in `plugins/`), no host needed: a
//! [`MockHost`] answers what the component's imports would (the `[config]` values, state, feature
//! flags, rate limits, the workout index, log lines) and plays scripted HTTP exchanges, recording
//! every request the plugin makes; [`assert_schemas_match`] holds the schemas a plugin derives to
//! the ones stored beside it. Only built for targets other than wasm32: a component never has it.
//!
//! ```
//! use amakaflow_tool_sdk::prelude::*;
//! use amakaflow_tool_sdk::http::Method;
//! use amakaflow_tool_sdk::testing::{Answer, MockHost};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Args {
//!     /// The workout's id.
//!     workout_id: String,
//! }
//!
//! fn title(_ctx: &Context, args: Args) -> Result<Value, ToolError> {
//!     let base = config::required("mapper_url")?;
//!     let workout: Value = http::get(format!("{base}/workouts/{}", args.workout_id)).send_json()?;
//!     Ok(workout["title"].clone())
//! }
//!
//! let plugin = Plugin::new().function("title", "The title of a workout.", title);
//! let host = MockHost::new()
//!     .config("mapper_url", "http://mapper.test")
//!     .expect(Method::Get, "http://mapper.test/workouts/w1", Answer::json(200, json!({"title": "Legs"})));
//! assert_eq!(host.call(&plugin, "title", json!({"workout_id": "w1"})).unwrap(), r#""Legs""#);
//! assert_eq!(host.requests()[0].url, "http://mapper.test/workouts/w1");
//! ```

pub(crate) mod host_calls;
mod schemas;
mod scripted;

pub use schemas::{assert_schemas_match, stored_schema};
pub use scripted::{Answer, MockHost, Recorded};
