//! Calls a component's `describe` export in a throwaway store, at load time. The plugin's own
//! limits apply (a `describe` that loops or allocates without end fails the load), it may read its
//! config and log, and it can reach nothing else: no egress, no user-scoped capabilities.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Trap;

use super::state::{StoreSpec, new_store};
use crate::bindings::{FunctionSpec, ToolPre};
use crate::egress::EgressPolicy;
use crate::engine::Runtime;
use crate::instance::CallState;
use crate::limits::MemoryLimitExceeded;
use crate::manifest::Manifest;

/// The longest a `describe` may take, whatever the manifest's timeout.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The functions the component says it offers, or why it could not say.
pub async fn describe(
    runtime: &Runtime,
    pre: &ToolPre<CallState>,
    manifest: &Manifest,
) -> Result<Vec<FunctionSpec>, String> {
    let budget = manifest.limits.timeout.min(DESCRIBE_TIMEOUT);
    let name: Arc<str> = manifest.name.as_str().into();
    let no_egress = Arc::new(EgressPolicy::default());
    let config = Arc::new(manifest.config.clone());
    let mut store = new_store(
        runtime,
        StoreSpec {
            plugin: &name,
            function: "describe".into(),
            limits: &manifest.limits,
            egress: &no_egress,
            config: &config,
            user_id: None,
            request_id: "load",
            authorization: None,
            deadline: Instant::now() + budget,
        },
    );
    let result = tokio::time::timeout(budget, async {
        let tool = pre.instantiate_async(&mut store).await?;
        tool.call_describe(&mut store).await
    })
    .await;
    match result {
        Ok(Ok(functions)) => Ok(functions),
        Err(_) => Err(format!("describe did not finish within {} s", budget.as_secs_f64())),
        Ok(Err(error)) => {
            let why = if store.data().limiter.exceeded() || error.downcast_ref::<MemoryLimitExceeded>().is_some() {
                "exceeded the memory limit".to_string()
            } else {
                match error.downcast_ref::<Trap>() {
                    Some(Trap::OutOfFuel) => "ran out of fuel".to_string(),
                    Some(Trap::Interrupt) => format!("did not finish within {} s", budget.as_secs_f64()),
                    _ => format!("trapped: {error:#}"),
                }
            };
            let stderr = store.data().stderr.text().map(|s| format!(" (stderr: {s})")).unwrap_or_default();
            Err(format!("describe {why}{stderr}"))
        }
    }
}
