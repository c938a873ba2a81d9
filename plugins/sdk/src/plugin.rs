//! The list of functions a plugin offers, and the two exports built from it: `describe` (names,
//! descriptions, JSON Schemas derived from the argument types) and `call` (parse the arguments,
//! run the function, turn its result into the text the model receives).

use schemars::{JsonSchema, Schema};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::bindings::amakaflow::tool::types::{CallContext, FunctionSpec, ToolError as WitToolError};
use crate::schema::schema_of;
use crate::{Context, ToolError, ToolOutput};

type Handler = Box<dyn Fn(&Context, &str) -> Result<String, ToolError>>;

/// One function: what the model sees, and the code that runs.
struct Function {
    name: &'static str,
    description: String,
    schema: fn() -> Schema,
    handler: Handler,
}

/// The functions of one plugin. Build it in a `fn() -> Plugin` and export that with
/// [`export_plugin!`](crate::export_plugin); the host builds it afresh for every call (cheap: no
/// schema is generated outside `describe`).
#[derive(Default)]
pub struct Plugin {
    functions: Vec<Function>,
}

/// Arguments of a function that takes none (its schema is an empty object).
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema)]
pub struct NoArgs {}

impl Plugin {
    pub fn new() -> Plugin {
        Plugin::default()
    }

    /// Adds a function. `name` is what the model calls (`[a-z][a-z0-9_]{0,63}`, unique across every
    /// plugin the host loads); `description` tells the model what it does and when to use it. The
    /// arguments' JSON Schema is derived from `A` (doc comments on its fields become descriptions).
    ///
    /// Arguments the host let through that still do not parse as `A` are a `validation_error`
    /// with serde's reason. One case does reach it: JSON Schema counts `10.0` as an integer, serde
    /// does not fit it in an `i64`.
    pub fn function<A, R, F>(self, name: &'static str, description: impl Into<String>, handler: F) -> Plugin
    where
        A: DeserializeOwned + JsonSchema + 'static,
        R: ToolOutput,
        F: Fn(&Context, A) -> Result<R, ToolError> + 'static,
    {
        self.function_with_schema(name, description, schema_of::<A>, handler)
    }

    /// Adds a function whose arguments' JSON Schema is given rather than derived from `A`: for a
    /// tool that must keep an existing schema exactly (a port of another service's tool). `schema`
    /// builds it, e.g. with `schemars::json_schema!({...})`; its root must be an object schema.
    pub fn function_with_schema<A, R, F>(
        mut self,
        name: &'static str,
        description: impl Into<String>,
        schema: fn() -> Schema,
        handler: F,
    ) -> Plugin
    where
        A: DeserializeOwned + 'static,
        R: ToolOutput,
        F: Fn(&Context, A) -> Result<R, ToolError> + 'static,
    {
        let handler: Handler = Box::new(move |ctx, raw| {
            let args: A = serde_json::from_str(raw)
                .map_err(|err| ToolError::validation(format!("Invalid arguments for {name}: {err}")))?;
            handler(ctx, args)?.into_result_text()
        });
        self.functions.push(Function { name, description: description.into(), schema, handler });
        self
    }

    /// The names of the functions, in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.functions.iter().map(|f| f.name)
    }

    /// The JSON Schema of a function's arguments, as the host receives it.
    pub fn schema(&self, name: &str) -> Option<serde_json::Value> {
        self.functions.iter().find(|f| f.name == name).map(|f| (f.schema)().to_value())
    }

    /// Runs a function directly. On the native target the host calls it makes are answered by a
    /// [`MockHost`](crate::testing::MockHost), through which unit tests call it.
    pub fn run(&self, ctx: &Context, arguments: &str) -> Result<String, ToolError> {
        match self.functions.iter().find(|f| f.name == ctx.function) {
            Some(function) => (function.handler)(ctx, arguments),
            None => Err(ToolError::new("unknown_function", format!("Unknown function: {}", ctx.function))),
        }
    }
}

/// The `describe` export.
pub fn describe(plugin: &Plugin) -> Vec<FunctionSpec> {
    plugin
        .functions
        .iter()
        .map(|f| FunctionSpec {
            name: f.name.to_string(),
            description: f.description.clone(),
            parameters_schema: (f.schema)().to_value().to_string(),
        })
        .collect()
}

/// The `call` export.
pub fn call(plugin: &Plugin, context: CallContext, function: &str, arguments: &str) -> Result<String, WitToolError> {
    let ctx = Context::new(context, function);
    plugin.run(&ctx, arguments).map_err(Into::into)
}
