//! The guest SDK of amakaflow-chat: write a tool the model can call as a typed Rust function, build
//! it into a WebAssembly component, drop it into `PLUGINS_DIR`.
//!
//! A plugin is a `cdylib` crate that lists its functions in a [`Plugin`] and exports it with
//! [`export_plugin!`]. Each function takes a [`Context`] (who is calling) and its arguments as a
//! type that implements `serde::Deserialize` and `schemars::JsonSchema`: the JSON Schema the model
//! sees is derived from that type (doc comments become descriptions), and the host validates the
//! model's arguments against it before the function runs.
//!
//! ```no_run
//! use amakaflow_tool_sdk::prelude::*;
//!
//! /// Arguments of `get_workout_details`.
//! #[derive(Deserialize, JsonSchema)]
//! struct Details {
//!     /// The workout's id, as returned by `search_workout_library`.
//!     workout_id: String,
//! }
//!
//! fn get_workout_details(_ctx: &Context, args: Details) -> Result<Value, ToolError> {
//!     let base = config::required("mapper_url")?;
//!     let workout: Value = http::get(format!("{base}/workouts/{}", args.workout_id)).send_json()?;
//!     Ok(json!({"success": true, "workout": workout}))
//! }
//!
//! fn plugin() -> Plugin {
//!     Plugin::new().function("get_workout_details", "Gets one workout with its exercises.", get_workout_details)
//! }
//!
//! amakaflow_tool_sdk::export_plugin!(plugin);
//! ```
//!
//! What a function can reach, all scoped by the host to this plugin and the calling user:
//! - [`http`]: outgoing HTTP with JSON helpers, to the origins the plugin's `plugin.toml` allows. The
//!   host adds the user's `Authorization`/`X-User-Id` and any secret headers on the way out; the
//!   plugin never sees them. Failures map to the original service's messages through `?`.
//! - [`config`]: the `[config]` values of `plugin.toml` (base URLs and other non-secret settings).
//! - [`state`]: a small key-value store with expiry (previews to be confirmed by a later call).
//! - [`rate_limit`], [`flags`], [`index`] (workout search), [`log`].
//! - [`compat`]: the original Python service's conventions (its `json.dumps` output, id checks),
//!   for tools ported from it; not in the prelude, imported by name where a port needs them.
//!
//! On targets other than wasm32 the host is [`testing::MockHost`]: plugin functions run natively
//! under `cargo test` with scripted config, state, flags and HTTP answers.
//!
//! A call runs in a fresh sandbox: nothing in memory survives it, there is no filesystem, no
//! environment and no clock beyond what `std` needs. Errors reach the model as
//! `{"error": true, "code": …, "message": …}` ([`ToolError`]).

extern crate self as amakaflow_tool_sdk;

pub mod bindings;
pub mod compat;
pub mod config;
mod context;
mod error;
pub mod flags;
mod host;
pub mod http;
pub mod index;
pub mod log;
mod output;
mod plugin;
pub mod rate_limit;
mod schema;
pub mod state;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use context::Context;
pub use error::{ToolError, codes};
pub use output::{Json, ToolOutput};
pub use plugin::{NoArgs, Plugin};

/// Everything a tool module usually needs, in one import.
pub mod prelude {
    pub use crate::http::{self, HttpError};
    pub use crate::{Context, Json, NoArgs, Plugin, ToolError, ToolOutput};
    pub use crate::{config, flags, index, log, rate_limit, state};
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
    pub use serde_json::{Value, json};
}

/// Re-exports the macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::plugin::{call, describe};
    pub use wit_bindgen;
}

/// Exports a plugin: `export_plugin!(build)` where `build` is a `fn() -> Plugin`. Use it once, at the
/// root of the plugin crate.
#[macro_export]
macro_rules! export_plugin {
    ($build:path) => {
        struct __AmakaflowPlugin;

        impl $crate::bindings::Guest for __AmakaflowPlugin {
            fn describe() -> ::std::vec::Vec<$crate::bindings::amakaflow::tool::types::FunctionSpec> {
                $crate::__private::describe(&$build())
            }

            fn call(
                context: $crate::bindings::amakaflow::tool::types::CallContext,
                function: ::std::string::String,
                arguments: ::std::string::String,
            ) -> ::std::result::Result<::std::string::String, $crate::bindings::amakaflow::tool::types::ToolError> {
                $crate::__private::call(&$build(), context, &function, &arguments)
            }
        }

        $crate::bindings::__export_tool_world!(__AmakaflowPlugin with_types_in $crate::bindings);
    };
}
