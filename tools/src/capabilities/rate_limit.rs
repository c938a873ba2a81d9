//! `rate-limit-hour`: per-user hourly call limits (the sync tools allow 3 an hour). The bucket is
//! scoped to the plugin (`<plugin>:<bucket>`), and check-and-count is one statement in the store,
//! so concurrent calls never exceed the limit.

use super::{HostCtx, service_failed};
use crate::bindings::host::RateLimitDecision;

pub async fn hour(ctx: &HostCtx, bucket: &str, limit_per_hour: u32) -> wasmtime::Result<RateLimitDecision> {
    let user = ctx.user("rate-limit-hour")?;
    let scoped = format!("{}:{}", ctx.plugin, super::log::truncate(bucket, 128));
    let decision = ctx
        .store("rate-limit-hour")?
        .hit_function_limit(user, &scoped, i64::from(limit_per_hour), store::now())
        .await
        .map_err(|err| service_failed("rate-limit-hour", err))?;
    let clamp = |n: i64| n.clamp(0, i64::from(u32::MAX)) as u32;
    Ok(RateLimitDecision {
        allowed: decision.allowed,
        count: clamp(decision.count),
        limit: clamp(decision.limit),
        retry_after_seconds: clamp(decision.retry_after_seconds),
    })
}
