//! Runs one function call in a fresh sandbox and turns whatever happened into a [`ToolOutcome`]:
//! arguments checked against the schema before the guest runs, a permit from the plugin's
//! concurrency limit and from the host's pool (else `busy`), the whole call under
//! `tokio::time::timeout` (epochs and fuel cannot stop a guest parked in an HTTP request), and a
//! classification of every failure into its own code. The store is dropped at the end, never reused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Trap;

use super::state::{StoreSpec, new_store};
use crate::ToolCall;
use crate::bindings::CallContext;
use crate::capabilities::HostServiceError;
use crate::egress::Violation;
use crate::engine::Runtime;
use crate::limits::MemoryLimitExceeded;
use crate::outcome::{ToolError, ToolOutcome, bytes, codes};
use crate::plugin::LoadedPlugin;
use crate::stats::{LastError, record_metrics};

/// Runs `call` on function `index` of `plugin`.
pub async fn run(runtime: &Runtime, plugin: &Arc<LoadedPlugin>, index: usize, call: &ToolCall) -> ToolOutcome {
    let started = Instant::now();
    let function = &plugin.functions[index];
    let (result, fuel, detail) = execute(runtime, plugin, index, call).await;
    let outcome =
        ToolOutcome { plugin: Some(plugin.name.to_string()), result, elapsed: started.elapsed(), fuel_consumed: fuel };

    record_metrics(&plugin.name, &function.name, outcome.outcome_label(), outcome.elapsed, fuel);
    match &outcome.result {
        Ok(_) => plugin.stats.record_success(),
        Err(err) => {
            if err.code == codes::PLUGIN_TRAP || err.code == codes::HOST_ERROR {
                tracing::warn!(plugin = %plugin.name, function = %function.name, request_id = %call.caller.request_id, code = %err.code, detail = detail.as_deref().unwrap_or(""), "tool call failed");
            } else {
                tracing::info!(plugin = %plugin.name, function = %function.name, request_id = %call.caller.request_id, code = %err.code, "tool call failed");
            }
            plugin.stats.record_failure(LastError {
                at: chrono::Utc::now(),
                function: function.name.to_string(),
                code: err.code.clone(),
                message: err.message.clone(),
                detail,
            });
        }
    }
    outcome
}

type Executed = (Result<String, ToolError>, Option<u64>, Option<String>);

async fn execute(runtime: &Runtime, plugin: &LoadedPlugin, index: usize, call: &ToolCall) -> Executed {
    let function = &plugin.functions[index];
    let name = &*function.name;
    if let Err(problems) = function.validate(&call.arguments) {
        let message = format!("Invalid arguments for {name}: {problems}");
        return (Err(ToolError::new(codes::INVALID_ARGUMENTS, message)), None, None);
    }
    let Ok(_plugin_permit) = plugin.permits.try_acquire() else {
        return (Err(ToolError::busy(name)), None, Some("the plugin's max_concurrent_calls is reached".into()));
    };
    let Ok(_pool_slot) = runtime.slots.try_acquire() else {
        return (Err(ToolError::busy(name)), None, Some("the host's instance pool is exhausted".into()));
    };

    let limits = &plugin.manifest.limits;
    let budget = limits.timeout;
    let deadline = Instant::now() + budget;
    let caller = &call.caller;
    let mut store = new_store(
        runtime,
        StoreSpec {
            plugin: &plugin.name,
            function: function.name.clone(),
            limits,
            egress: &plugin.egress,
            config: &plugin.config,
            user_id: Some(&caller.user_id),
            request_id: &caller.request_id,
            authorization: caller.authorization.as_deref(),
            deadline,
        },
    );
    let context = CallContext {
        user_id: caller.user_id.clone(),
        session_id: caller.session_id.clone(),
        request_id: caller.request_id.clone(),
    };
    let arguments = call.arguments.to_string();

    let result = tokio::time::timeout(budget, async {
        let tool = plugin.pre.instantiate_async(&mut store).await?;
        tool.call_call(&mut store, &context, name, &arguments).await
    })
    .await;

    let fuel = store.get_fuel().ok().map(|left| limits.fuel.saturating_sub(left));
    let state = store.data();
    let violation = state.egress.violations.first();
    let stderr = state.stderr.text();
    let classified = match result {
        Err(_elapsed) => (Err(ToolError::timeout(name, budget)), Some("wall-clock budget elapsed".to_string())),
        Ok(Err(error)) => {
            let detail = Some(match &stderr {
                Some(stderr) => format!("{error:#}; stderr: {stderr}"),
                None => format!("{error:#}"),
            });
            if state.limiter.exceeded() || error.downcast_ref::<MemoryLimitExceeded>().is_some() {
                (Err(ToolError::memory_exceeded(name, state.limiter.limit())), detail)
            } else if let Some(violation) = &violation {
                (Err(from_violation(name, violation, budget)), detail)
            } else if error.downcast_ref::<HostServiceError>().is_some() {
                (Err(ToolError::host_error(name)), detail)
            } else if error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
                (Err(ToolError::busy(name)), detail)
            } else {
                match error.downcast_ref::<Trap>() {
                    Some(Trap::OutOfFuel) => (Err(ToolError::fuel_exhausted(name)), detail),
                    Some(Trap::Interrupt) => (Err(ToolError::timeout(name, budget)), detail),
                    _ => (Err(ToolError::plugin_trap(name)), detail),
                }
            }
        }
        Ok(Ok(returned)) => match (violation, returned) {
            // The guest may have swallowed the refusal; the host reports the cause.
            (Some(violation), _) => (Err(from_violation(name, &violation, budget)), None),
            (None, Err(error)) => (Err(ToolError::new(error.code, error.message)), None),
            (None, Ok(text)) if text.len() as u64 > limits.max_result_bytes => {
                (Err(ToolError::result_too_large(name, text.len(), limits.max_result_bytes as usize)), None)
            }
            (None, Ok(text)) => (Ok(text), None),
        },
    };
    drop(store);
    (classified.0, fuel, classified.1)
}

fn from_violation(function: &str, violation: &Violation, budget: Duration) -> ToolError {
    match violation {
        Violation::OriginDenied { origin } => ToolError::new(
            codes::EGRESS_DENIED,
            format!("The tool {function} tried to reach {origin}, which it is not allowed to contact."),
        ),
        Violation::AddressDenied { host, class } => ToolError::new(
            codes::EGRESS_DENIED,
            format!(
                "The tool {function} tried to reach {host}, which resolves to {}; that is not allowed.",
                class.describe()
            ),
        ),
        Violation::ResponseTooLarge { limit } => ToolError::new(
            codes::RESPONSE_TOO_LARGE,
            format!("A response to the tool {function} was larger than the {} allowed and was cut off.", bytes(*limit)),
        ),
        Violation::BudgetExhausted => ToolError::timeout(function, budget),
        Violation::TooManyRequests { limit } => ToolError::new(
            codes::EGRESS_DENIED,
            format!("The tool {function} sent more than {limit} requests in one call and was stopped."),
        ),
    }
}
