//! {{name}}: a tool plugin for amakaflow-chat, in Rust.
//!
//! Each function in `plugin()` is a tool the model can call. Its arguments are a typed struct: the
//! JSON Schema the model sees is derived from it (doc comments become descriptions), and the host
//! validates the model's arguments against it before the function runs.

use amakaflow_tool_sdk::prelude::*;

/// Arguments of `{{function}}`.
#[derive(Deserialize, JsonSchema)]
pub struct Args {
    /// Who to greet
    name: String,
}

fn {{function}}(ctx: &Context, args: Args) -> Result<Value, ToolError> {
    if args.name.trim().is_empty() {
        return Err(ToolError::validation("Give a name to greet."));
    }
    let greeting = config::get("greeting").unwrap_or_else(|| "Hello".to_string());
    log::info(&format!("greeting for {}", ctx.user_id));
    Ok(json!({"message": format!("{greeting}, {}!", args.name)}))
}

pub fn plugin() -> Plugin {
    Plugin::new().function(
        "{{function}}",
        "Greets someone by name. Replace this with what your tool does and when to use it.",
        {{function}},
    )
}

amakaflow_tool_sdk::export_plugin!(plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_asks_for_a_name() {
        let schema = plugin().schema("{{function}}").expect("the function is registered");
        assert_eq!(schema["required"], json!(["name"]));
        assert_eq!(schema["properties"]["name"]["type"], "string");
    }
}
