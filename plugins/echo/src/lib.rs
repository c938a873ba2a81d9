//! The example plugin: the smallest useful tools, and a template for new ones.
//!
//! - `echo` returns its text (and who called), touching nothing outside the sandbox.
//! - `echo_http` sends one request to the service named by the `base_url` setting and returns the
//!   status and the body. `plugin.toml` allows that origin and forwards the user's credentials there.

use amakaflow_tool_sdk::prelude::*;

/// Arguments of `echo`.
#[derive(Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    text: String,
}

fn echo(ctx: &Context, args: EchoArgs) -> Result<Value, ToolError> {
    Ok(json!({
        "echo": args.text,
        "user_id": ctx.user_id,
        "label": config::get("label"),
    }))
}

/// An HTTP method `echo_http` may use.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
enum HttpMethod {
    Get,
    Post,
}

/// Arguments of `echo_http`.
#[derive(Deserialize, JsonSchema)]
struct EchoHttpArgs {
    /// Path on the configured service, starting with `/`.
    path: String,
    /// `GET` (default) or `POST`.
    method: Option<HttpMethod>,
    /// JSON body of a `POST`.
    body: Option<Value>,
}

fn echo_http(_ctx: &Context, args: EchoHttpArgs) -> Result<Value, ToolError> {
    if !args.path.starts_with('/') {
        return Err(ToolError::validation("path must start with /"));
    }
    let url = format!("{}{}", config::required("base_url")?, args.path);
    let request = match args.method.unwrap_or(HttpMethod::Get) {
        HttpMethod::Get => http::get(url),
        HttpMethod::Post => http::post(url).json(&args.body.unwrap_or(Value::Null)),
    };
    let response = request.send()?;
    let body = response.json::<Value>().unwrap_or_else(|_| Value::String(response.text()));
    Ok(json!({"status": response.status, "body": body, "label": config::get("label")}))
}

fn plugin() -> Plugin {
    Plugin::new().function("echo", "Echoes the given text back (a test tool).", echo).function(
        "echo_http",
        "Sends a request to the echo service and returns its answer (a test tool).",
        echo_http,
    )
}

amakaflow_tool_sdk::export_plugin!(plugin);
