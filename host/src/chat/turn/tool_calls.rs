//! The tool calls of one Claude reply: run concurrently through the tool runtime, a `heartbeat`
//! every five seconds while any runs, each `function_result` sent (and its row persisted) as it
//! finishes, and all results returned to Claude in one user message, in the order of the calls.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::json;
use store::{NewMessage, Role as StoreRole};
use tools::{Caller, Registry, ToolCall};
use tracing::Instrument;

use super::{HEARTBEAT_INTERVAL, Turn};
use crate::chat::events::{ChatEvent, FunctionResult, Heartbeat};
use crate::chat::sink::EventSink;
use crate::llm::{ApiMessage, ContentBlock, Role, ToolUseBlock};

/// What the model sees for a tool call whose arguments were not valid JSON (the original's text).
const INVALID_ARGUMENTS: &str = "Error: Invalid tool arguments received. Please try again.";

impl Turn {
    /// Runs the calls and adds their `tool_result` message to the transcript. `false` when the
    /// shutdown deadline interrupted them.
    pub(super) async fn run_tools(&mut self, uses: &[ToolUseBlock], sink: &mut EventSink) -> bool {
        let started = Instant::now();
        let mut results: Vec<Option<(String, bool)>> = vec![None; uses.len()];
        let mut running = FuturesUnordered::new();
        for (i, tool_use) in uses.iter().enumerate() {
            if tool_use.input_error.is_some() {
                self.tool_finished(tool_use, INVALID_ARGUMENTS.to_string(), true, sink).await;
                results[i] = Some((INVALID_ARGUMENTS.to_string(), true));
                continue;
            }
            let tools: Arc<Registry> = self.deps.tools.clone();
            let call = ToolCall {
                function: tool_use.name.clone(),
                arguments: tool_use.input.clone(),
                caller: Caller {
                    user_id: self.who.user.user_id.clone(),
                    session_id: Some(self.who.session_id.to_string()),
                    request_id: self.who.request_id.clone(),
                    authorization: self.who.user.authorization.clone(),
                },
            };
            let span = tracing::info_span!("tool_call", function = %tool_use.name, tool_use_id = %tool_use.id);
            running.push(async move { (i, tools.call(call).await) }.instrument(span));
        }
        self.tally.output_seen = true;
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
        let shutdown = self.deps.shutdown.clone();
        while !running.is_empty() {
            tokio::select! {
                Some((i, outcome)) = running.next() => {
                    let text = outcome.result_text();
                    if outcome.is_error() {
                        tracing::info!(function = %uses[i].name, plugin = ?outcome.plugin, result = %text, "tool call failed");
                    }
                    self.tool_finished(&uses[i], text.clone(), outcome.is_error(), sink).await;
                    results[i] = Some((text, outcome.is_error()));
                }
                _ = heartbeat.tick() => {
                    for (i, tool_use) in uses.iter().enumerate() {
                        if results[i].is_none() {
                            sink.send(ChatEvent::Heartbeat(Heartbeat {
                                status: "executing_tool",
                                tool_name: tool_use.name.clone(),
                                elapsed_seconds: started.elapsed().as_secs(),
                            })).await;
                        }
                    }
                }
                _ = shutdown.deadline() => return false,
            }
        }
        let content = uses
            .iter()
            .zip(results)
            .map(|(tool_use, result)| {
                let (content, is_error) = result.unwrap_or_else(|| (INVALID_ARGUMENTS.to_string(), true));
                ContentBlock::ToolResult { tool_use_id: tool_use.id.clone(), content, is_error }
            })
            .collect();
        self.conversation.transcript.push(ApiMessage { role: Role::User, content });
        true
    }

    /// Sends `function_result`, records the call and persists its `tool_result` row.
    async fn tool_finished(&mut self, tool_use: &ToolUseBlock, result: String, is_error: bool, sink: &mut EventSink) {
        sink.send(ChatEvent::FunctionResult(FunctionResult {
            tool_use_id: tool_use.id.clone(),
            name: tool_use.name.clone(),
            result: result.clone(),
        }))
        .await;
        if !is_error {
            self.conversation.pending.observe(&tool_use.input, &result);
        }
        self.tally
            .tool_records
            .push(json!({"id": tool_use.id, "name": tool_use.name, "input": tool_use.input, "result": result}));
        let row = NewMessage {
            session_id: self.who.session_id,
            user_id: self.who.user.user_id.clone(),
            role: Some(StoreRole::ToolResult),
            content: Some(result),
            tool_use_id: Some(tool_use.id.clone()),
            tool_calls: Some(json!([{"name": tool_use.name, "input": tool_use.input, "is_error": is_error}])),
            ..Default::default()
        };
        if let Err(err) = self.deps.store.insert_message(&row).await {
            tracing::error!(error = %err, "persisting a tool result failed");
        }
    }
}
