//! `tools/call`: one call through the same runtime as the chat ([`Registry::call`]: the plugin's
//! limits, the egress policy, the user's identity and forwarded credentials, `tool_calls_total`
//! with `via="mcp"`), after the user's hourly MCP limit. While it runs, a client that sent a
//! progress token hears `notifications/progress` every few seconds; a `notifications/cancelled`
//! (or, on the stateless revision, the client closing its request) drops the call, and with it
//! the call's sandbox.
//!
//! The result is the tool's text as text content, and also as structured content when it is a
//! JSON object. A tool failure is a result with `isError: true` carrying the structured error
//! (`{"error": true, "code", "message"}`), never a protocol error; an unknown tool is the
//! specification's invalid-params error, and so are invalid arguments for clients of 2025-06-18
//! (2025-11-25 made them a tool error the model can correct).

use std::time::Instant;

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, ErrorData, ProgressNotificationParam, ProtocolVersion,
};
use rmcp::service::RequestContext;
use serde_json::{Value, json};
use tools::{Caller, ToolCall, ToolError, ToolOutcome, Via, codes};

use super::server::{RequestCaller, ToolHost};

/// Runs the call `request` asks for as `caller`.
pub async fn call(
    host: &ToolHost,
    caller: RequestCaller,
    request: CallToolRequestParams,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, ErrorData> {
    let deps = &host.deps;
    let name = request.name.to_string();
    // Checked before anything is counted: a call that cannot run spends nothing.
    if !deps.tools.functions().iter().any(|function| function.name == name) {
        return Err(ErrorData::invalid_params(format!("Unknown tool: {name}"), Some(json!({"tool": name}))));
    }
    let user_id = caller.user.user_id.clone();
    if let Some(refusal) = super::hourly_limit::reserve(&deps.store, &user_id, deps.calls_per_hour).await? {
        tracing::info!(request_id = %caller.request_id, user_id = %user_id, tool = %name, "mcp tool call over the hourly limit");
        return Ok(tool_error(&refusal));
    }
    let session_id = context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.headers.get("mcp-session-id"))
        .and_then(|id| id.to_str().ok())
        .map(str::to_string);
    let call = ToolCall {
        function: name.clone(),
        arguments: Value::Object(request.arguments.unwrap_or_default()),
        caller: Caller {
            user_id: user_id.clone(),
            session_id,
            request_id: caller.request_id.clone(),
            authorization: caller.user.authorization.clone(),
            via: Via::Mcp,
        },
    };
    let started = Instant::now();
    let Some(outcome) = run_reporting_progress(host, call, context).await else {
        tracing::info!(request_id = %caller.request_id, user_id = %user_id, tool = %name, elapsed_ms = started.elapsed().as_millis() as u64, "mcp tool call cancelled");
        return Err(ErrorData::invalid_request("The call was cancelled.", None));
    };
    tracing::info!(
        request_id = %caller.request_id,
        user_id = %user_id,
        tool = %name,
        plugin = outcome.plugin.as_deref().unwrap_or(""),
        outcome = outcome.outcome_label(),
        elapsed_ms = outcome.elapsed.as_millis() as u64,
        "mcp tool call"
    );
    match outcome.result {
        Ok(text) => Ok(success(text)),
        Err(error) if error.code == codes::INVALID_ARGUMENTS && !arguments_errors_are_tool_errors(context) => {
            Err(ErrorData::invalid_params(error.message.clone(), Some(error.to_json())))
        }
        Err(error) => Ok(tool_error(&error)),
    }
}

/// Runs `call`, sending progress while it runs when the client asked for it. `None`: the client
/// cancelled the request (or went away), and the call was dropped.
async fn run_reporting_progress(
    host: &ToolHost,
    call: ToolCall,
    context: &RequestContext<RoleServer>,
) -> Option<ToolOutcome> {
    let started = Instant::now();
    let progress_token = context.meta.get_progress_token();
    let interval = host.deps.progress_interval;
    let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    let running = host.deps.tools.call(call);
    tokio::pin!(running);
    let mut reports = 0u32;
    loop {
        tokio::select! {
            outcome = &mut running => return Some(outcome),
            _ = context.ct.cancelled() => return None,
            _ = progress.tick(), if progress_token.is_some() => {
                reports += 1;
                let token = progress_token.clone().expect("checked by the guard");
                let report = ProgressNotificationParam::new(token, reports.into())
                    .with_message(format!("running for {} s", started.elapsed().as_secs()));
                // A client that stopped reading progress still gets its result.
                let _ = context.peer.notify_progress(report).await;
            }
        }
    }
}

/// Whether the request's revision reports invalid arguments as a tool error (2025-11-25 on).
fn arguments_errors_are_tool_errors(context: &RequestContext<RoleServer>) -> bool {
    context.protocol_version().is_none_or(|version| version.as_str() >= ProtocolVersion::V_2025_11_25.as_str())
}

/// A tool's result: its text, and the same as structured content when it is a JSON object.
fn success(text: String) -> CallToolResult {
    let structured = serde_json::from_str::<Value>(&text).ok().filter(Value::is_object);
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = structured;
    result
}

/// A failed call as the client sees it: `isError: true`, the structured error as text and object.
fn tool_error(error: &ToolError) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(error.to_result_string())]);
    result.structured_content = Some(error.to_json());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_object_result_is_also_structured_content() {
        let result = success(r#"{"success": true, "n": 2}"#.to_string());
        assert_eq!(result.structured_content, Some(json!({"success": true, "n": 2})));
        assert_eq!(result.is_error, Some(false));
        let plain = success("Navigating to the calendar.".to_string());
        assert_eq!(plain.structured_content, None);
    }

    #[test]
    fn a_tool_failure_is_an_error_result_with_the_structured_error() {
        let result = tool_error(&ToolError::new("not_found", "No such workout."));
        assert_eq!(result.is_error, Some(true));
        assert_eq!(
            result.structured_content,
            Some(json!({"error": true, "code": "not_found", "message": "No such workout."}))
        );
    }
}
