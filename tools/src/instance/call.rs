//! Runs one function call in a fresh sandbox and turns whatever happened into a [`ToolOutcome`]:
//! arguments checked against the schema before the guest runs, a permit from the plugin's
//! concurrency limit, room for its memory limit in the host's memory budget (waited for a bounded
//! time) and a slot from the host's pool (else `busy`), the whole call under
//! `tokio::time::timeout` (epochs and fuel cannot stop a guest parked in an HTTP request), and one
//! function ([`classify`]) that decides which code each way of ending becomes. The store is dropped
//! at the end, never reused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::error::Elapsed;
use wasmtime::Trap;

use super::state::{StoreSpec, new_store};
use crate::ToolCall;
use crate::bindings::{CallContext, ToolError as GuestError};
use crate::capabilities::HostServiceError;
use crate::egress::Violation;
use crate::engine::Runtime;
use crate::limits::MemoryLimitExceeded;
use crate::manifest::Limits;
use crate::outcome::{ToolError, ToolOutcome, bytes, codes, counted_code};
use crate::plugin::LoadedPlugin;
use crate::stats::{LastError, record_metrics};

/// Runs `call` on function `index` of `plugin`.
pub async fn run(runtime: &Runtime, plugin: &Arc<LoadedPlugin>, index: usize, call: &ToolCall) -> ToolOutcome {
    let started = Instant::now();
    let function = &plugin.functions[index];
    let Executed { result, fuel_consumed, detail } = execute(runtime, plugin, index, call).await;
    let outcome =
        ToolOutcome { plugin: Some(plugin.name.to_string()), result, elapsed: started.elapsed(), fuel_consumed };

    // The model and the client see the plugin's code; metrics and statistics a bounded set of codes.
    let label = match &outcome.result {
        Ok(_) => "ok",
        Err(err) => counted_code(&err.code, &plugin.manifest.error_codes),
    };
    record_metrics(&plugin.name, &function.name, label, call.caller.via, outcome.elapsed, fuel_consumed);
    plugin.stats.record_latency(outcome.elapsed);
    match &outcome.result {
        Ok(_) => plugin.stats.record_success(),
        Err(err) => {
            if err.code == codes::PLUGIN_TRAP || err.code == codes::HOST_ERROR {
                tracing::warn!(plugin = %plugin.name, function = %function.name, request_id = %call.caller.request_id, code = %err.code, detail = detail.as_deref().unwrap_or(""), "tool call failed");
            } else {
                tracing::info!(plugin = %plugin.name, function = %function.name, request_id = %call.caller.request_id, code = %err.code, "tool call failed");
            }
            plugin.stats.record_failure(
                label,
                LastError {
                    at: chrono::Utc::now(),
                    function: function.name.to_string(),
                    code: err.code.clone(),
                    message: err.message.clone(),
                    detail,
                },
            );
        }
    }
    outcome
}

/// What one call produced, before it is timed, counted and logged.
struct Executed {
    /// The result text, or the error the model and the client see.
    result: Result<String, ToolError>,
    /// Fuel the guest burned (`None` when it never ran).
    fuel_consumed: Option<u64>,
    /// What the host saw behind an error (a trap, a panic message on stderr), for the operator
    /// only: it goes to the logs and the plugin's statistics, never to the model.
    detail: Option<String>,
}

impl Executed {
    /// A call refused before the guest ran.
    fn refused(error: ToolError, detail: Option<String>) -> Executed {
        Executed { result: Err(error), fuel_consumed: None, detail }
    }
}

/// How a call that reached the guest ended: what `call` returned (or that the wall-clock budget
/// ran out first) and what the sandbox saw meanwhile.
struct Ending {
    returned: Result<wasmtime::Result<Result<String, GuestError>>, Elapsed>,
    /// The memory limiter saw the guest ask for more than its limit.
    memory_exceeded: bool,
    /// The limit the memory limiter enforced.
    memory_limit: u64,
    /// The first request the egress policy refused or cut off.
    violation: Option<Violation>,
    /// What the guest wrote to stderr (a panic message).
    stderr: Option<String>,
    /// Fuel the guest burned.
    fuel_consumed: Option<u64>,
}

async fn execute(runtime: &Runtime, plugin: &LoadedPlugin, index: usize, call: &ToolCall) -> Executed {
    let function = &plugin.functions[index];
    let name = &*function.name;
    if let Err(problems) = function.validate(&call.arguments) {
        let message = format!("Invalid arguments for {name}: {problems}");
        return Executed::refused(ToolError::new(codes::INVALID_ARGUMENTS, message), None);
    }
    let limits = &plugin.manifest.limits;
    // The budget starts now: waiting for memory is part of the call's time.
    let deadline = Instant::now() + limits.timeout;
    let Ok(_plugin_permit) = plugin.permits.try_acquire() else {
        return Executed::refused(ToolError::busy(name), Some("the plugin's max_concurrent_calls is reached".into()));
    };
    // Memory before the pool slot: a call waiting for memory must not keep a slot from a call
    // of another plugin that fits.
    let Some(_memory) = runtime.memory.reserve(limits.memory_bytes, deadline).await else {
        let detail = format!("the memory budget of running calls ({}) stayed exhausted", bytes(runtime.memory.bytes()));
        return Executed::refused(ToolError::busy(name), Some(detail));
    };
    let Ok(_pool_slot) = runtime.slots.try_acquire() else {
        return Executed::refused(ToolError::busy(name), Some("the host's instance pool is exhausted".into()));
    };

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

    let returned = tokio::time::timeout_at(deadline.into(), async {
        let tool = plugin.pre.instantiate_async(&mut store).await?;
        tool.call_call(&mut store, &context, name, &arguments).await
    })
    .await;

    let fuel_consumed = store.get_fuel().ok().map(|left| limits.fuel.saturating_sub(left));
    let state = store.data();
    let ending = Ending {
        returned,
        memory_exceeded: state.limiter.exceeded(),
        memory_limit: state.limiter.limit(),
        violation: state.egress.violations.first(),
        stderr: state.stderr.text(),
        fuel_consumed,
    };
    drop(store); // whatever happened: a store is never reused
    classify(name, limits, ending)
}

/// Which error a call's ending becomes, in order of what caused it: the deadline, the memory
/// limit, an egress violation (even one the guest swallowed), a failing host service, the pool,
/// fuel, an epoch interrupt, any other trap; then the guest's own error or a result over the size
/// limit.
fn classify(function: &str, limits: &Limits, ending: Ending) -> Executed {
    let Ending { returned, memory_exceeded, memory_limit, violation, stderr, fuel_consumed } = ending;
    let budget = limits.timeout;
    let (result, detail) = match returned {
        Err(_elapsed) => (Err(ToolError::timeout(function, budget)), Some("wall-clock budget elapsed".to_string())),
        Ok(Err(error)) => {
            let detail = match &stderr {
                Some(stderr) => format!("{error:#}; stderr: {stderr}"),
                None => format!("{error:#}"),
            };
            let error = if memory_exceeded || error.downcast_ref::<MemoryLimitExceeded>().is_some() {
                ToolError::memory_exceeded(function, memory_limit)
            } else if let Some(violation) = &violation {
                from_violation(function, violation, budget)
            } else if error.downcast_ref::<HostServiceError>().is_some() {
                ToolError::host_error(function)
            } else if error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
                ToolError::busy(function)
            } else {
                match error.downcast_ref::<Trap>() {
                    Some(Trap::OutOfFuel) => ToolError::fuel_exhausted(function),
                    Some(Trap::Interrupt) => ToolError::timeout(function, budget),
                    _ => ToolError::plugin_trap(function),
                }
            };
            (Err(error), Some(detail))
        }
        Ok(Ok(returned)) => match (violation, returned) {
            // The guest may have swallowed the refusal; the host reports the cause.
            (Some(violation), _) => (Err(from_violation(function, &violation, budget)), None),
            (None, Err(error)) => {
                (Err(ToolError::from_plugin(error.code, error.message, limits.max_result_bytes)), None)
            }
            (None, Ok(text)) if text.len() as u64 > limits.max_result_bytes => {
                (Err(ToolError::result_too_large(function, text.len(), limits.max_result_bytes as usize)), None)
            }
            (None, Ok(text)) => (Ok(text), None),
        },
    };
    Executed { result, fuel_consumed, detail }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            timeout: Duration::from_secs(2),
            fuel: 1_000,
            memory_bytes: 16 << 20,
            max_response_bytes: 1 << 20,
            max_result_bytes: 10,
            max_concurrent_calls: 4,
            state_max_keys: 10,
            state_max_bytes: 1 << 20,
            max_requests_in_flight: 8,
        }
    }

    fn ending(returned: wasmtime::Result<Result<String, GuestError>>) -> Ending {
        Ending {
            returned: Ok(returned),
            memory_exceeded: false,
            memory_limit: 16 << 20,
            violation: None,
            stderr: None,
            fuel_consumed: Some(7),
        }
    }

    fn code(executed: &Executed) -> &str {
        &executed.result.as_ref().expect_err("an error").code
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_is_a_timeout() {
        let elapsed = tokio::time::timeout(Duration::ZERO, std::future::pending::<()>()).await.unwrap_err();
        let executed = classify("spin", &limits(), Ending { returned: Err(elapsed), ..ending(Ok(Ok(String::new()))) });
        assert_eq!(code(&executed), codes::TIMEOUT);
        assert_eq!(executed.detail.as_deref(), Some("wall-clock budget elapsed"));
    }

    #[test]
    fn traps_are_told_apart() {
        let trapped = |trap: Trap| classify("f", &limits(), ending(Err(trap.into())));
        assert_eq!(code(&trapped(Trap::OutOfFuel)), codes::FUEL_EXHAUSTED);
        assert_eq!(code(&trapped(Trap::Interrupt)), codes::TIMEOUT);
        assert_eq!(code(&trapped(Trap::UnreachableCodeReached)), codes::PLUGIN_TRAP);
        assert_eq!(trapped(Trap::OutOfFuel).fuel_consumed, Some(7));
    }

    #[test]
    fn hitting_the_memory_limit_wins_over_the_trap_it_caused() {
        let ending = Ending { memory_exceeded: true, ..ending(Err(Trap::UnreachableCodeReached.into())) };
        let executed = classify("bomb", &limits(), ending);
        assert_eq!(code(&executed), codes::MEMORY_EXCEEDED);
        assert!(executed.result.unwrap_err().message.contains("16 MiB"));
    }

    #[test]
    fn an_egress_violation_is_reported_even_when_the_guest_swallowed_it() {
        let violation = Some(Violation::OriginDenied { origin: "https://evil.example".into() });
        let executed = classify("fetch", &limits(), Ending { violation, ..ending(Ok(Ok("{}".into()))) });
        assert_eq!(code(&executed), codes::EGRESS_DENIED);
    }

    #[test]
    fn the_guests_own_error_passes_through_and_a_large_result_is_refused() {
        let own = GuestError { code: "not_found".into(), message: "No such workout".into() };
        assert_eq!(classify("f", &limits(), ending(Ok(Err(own)))).result.unwrap_err().code, "not_found");
        let flood = GuestError { code: "Fresh Code".into(), message: "m".repeat(11) };
        let bounded = classify("f", &limits(), ending(Ok(Err(flood)))).result.unwrap_err();
        assert_eq!(bounded.code, codes::PLUGIN_ERROR);
        assert_eq!(bounded.message, "mmmmmmmmmm … [cut: 11 bytes message]");
        assert_eq!(code(&classify("f", &limits(), ending(Ok(Ok("x".repeat(11)))))), codes::RESULT_TOO_LARGE);
        assert_eq!(classify("f", &limits(), ending(Ok(Ok("x".repeat(10))))).result.unwrap(), "xxxxxxxxxx");
    }
}
