//! The tool calls of one Claude reply: run concurrently through the tool runtime, a `heartbeat`
//! every five seconds while any runs, each `function_result` sent (and its row persisted) as it
//! finishes, and all results returned to Claude in one user message, in the order of the calls.
//!
//! Each call runs in a task of its own, so it runs to its end (and gives back its plugin permit,
//! pool slot and memory) even while the turn waits on a slow client; the tasks are aborted when the
//! turn stops waiting for them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use store::{NewMessage, Role as StoreRole};
use tokio::task::JoinSet;
use tools::{Caller, Registry, ToolCall, ToolError, codes};
use tracing::Instrument;

use super::{HEARTBEAT_INTERVAL, Turn};
use crate::chat::events::{ChatEvent, FunctionResult, Heartbeat};
use crate::chat::sink::EventSink;
use crate::llm::{ApiMessage, ContentBlock, Role, ToolUseBlock};
use crate::telemetry::sentry::with_current_hub;

/// What the model sees for a tool call whose arguments were not valid JSON (the original's text).
const INVALID_ARGUMENTS: &str = "Error: Invalid tool arguments received. Please try again.";
/// What the model sees (next turn) for a tool call the user's stop or the shutdown cut off.
const INTERRUPTED: &str = "Error: The tool call was interrupted before it finished.";

impl Turn {
    /// Runs the calls and adds their `tool_result` message to the transcript. `false` when the
    /// shutdown deadline or the user's stop interrupted them: the calls still running are aborted
    /// (their stores dropped, their requests abandoned) and answered as interrupted, so the
    /// history stays valid for the next turn.
    pub(super) async fn run_tools(&mut self, uses: &[ToolUseBlock], sink: &mut EventSink) -> bool {
        let started = Instant::now();
        let mut results: Vec<Option<(String, bool)>> = vec![None; uses.len()];
        // Dropped (aborting the calls still running) whenever this function returns.
        let mut running = JoinSet::new();
        let mut index_of = HashMap::new();
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
                    via: tools::Via::Chat,
                },
            };
            let span = tracing::info_span!(
                "tool_call",
                function = %tool_use.name,
                tool_use_id = %tool_use.id,
                plugin = tracing::field::Empty,
                outcome = tracing::field::Empty,
                fuel = tracing::field::Empty,
            );
            let task = running.spawn(with_current_hub(async move { tools.call(call).await }.instrument(span.clone())));
            index_of.insert(task.id(), (i, span));
        }
        self.tally.output_seen = true;
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
        let shutdown = self.deps.shutdown.clone();
        let stopped = self.live.stopped().clone();
        let mut finished = true;
        while !running.is_empty() {
            tokio::select! {
                Some(joined) = running.join_next_with_id() => {
                    let (i, text, is_error) = match joined {
                        Ok((task, outcome)) => {
                            let (i, span) = &index_of[&task];
                            let i = *i;
                            record_outcome(span, &outcome);
                            let text = outcome.result_text();
                            if outcome.is_error() {
                                tracing::info!(function = %uses[i].name, plugin = ?outcome.plugin, result = %text, "tool call failed");
                            }
                            (i, text, outcome.is_error())
                        }
                        // The runtime never panics by design; if it did, the model hears of a host error.
                        Err(err) => {
                            let i = index_of[&err.id()].0;
                            tracing::error!(function = %uses[i].name, error = %err, "tool call task failed");
                            (i, ToolError::new(codes::HOST_ERROR, "The tool call failed.").to_result_string(), true)
                        }
                    };
                    self.tool_finished(&uses[i], text.clone(), is_error, sink).await;
                    results[i] = Some((text, is_error));
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
                _ = shutdown.deadline() => { finished = false; break }
                () = stopped.cancelled() => { finished = false; break }
            }
        }
        running.abort_all();
        let content = uses
            .iter()
            .zip(results)
            .map(|(tool_use, result)| {
                let (content, is_error) = result.unwrap_or_else(|| (INTERRUPTED.to_string(), true));
                ContentBlock::ToolResult { tool_use_id: tool_use.id.clone(), content, is_error }
            })
            .collect();
        self.conversation.transcript.push(ApiMessage { role: Role::User, content });
        finished
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

/// The call's plugin, outcome (`ok` or the error's code) and fuel on its `tool_call` span.
fn record_outcome(span: &tracing::Span, outcome: &tools::ToolOutcome) {
    if let Some(plugin) = &outcome.plugin {
        span.record("plugin", plugin.as_str());
    }
    span.record("outcome", outcome.result.as_ref().map_or_else(|err| err.code.as_str(), |_| "ok"));
    if let Some(fuel) = outcome.fuel_consumed {
        // An integer attribute (OpenTelemetry has no unsigned one; tracing's u64 would be text).
        span.record("fuel", i64::try_from(fuel).unwrap_or(i64::MAX));
    }
}
