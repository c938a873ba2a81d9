//! `state-*`: a small key-value store scoped to (plugin, user), with expiry, in the `tool_state`
//! table. Previews a later call must confirm live here; nothing else survives a call. Each
//! (plugin, user) has a quota of live keys and bytes (`[limits] state_max_keys`/`state_max_bytes`):
//! a put past it is refused whole with an error starting `state_quota_exceeded`.

use chrono::TimeDelta;
use store::StatePut;

use super::{HostCtx, service_failed};
use crate::outcome::{bytes, codes};

pub const MAX_KEY_BYTES: usize = 256;
pub const MAX_VALUE_BYTES: usize = 1 << 20;
pub const MAX_TTL_SECONDS: u32 = 30 * 24 * 3600;

pub async fn get(ctx: &HostCtx, key: &str) -> wasmtime::Result<Option<String>> {
    let user = ctx.user("state-get")?;
    if key.len() > MAX_KEY_BYTES {
        return Ok(None);
    }
    ctx.store("state-get")?
        .tool_state_get(&ctx.plugin, user, key, store::now())
        .await
        .map_err(|err| service_failed("state-get", err))
}

pub async fn put(ctx: &HostCtx, key: &str, value: &str, ttl_seconds: u32) -> wasmtime::Result<Result<(), String>> {
    let user = ctx.user("state-put")?;
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Ok(Err(format!("keys must be 1 to {MAX_KEY_BYTES} bytes")));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Ok(Err(format!("values must be at most {MAX_VALUE_BYTES} bytes")));
    }
    if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
        return Ok(Err(format!("ttl-seconds must be 1 to {MAX_TTL_SECONDS}")));
    }
    let expires_at = store::now() + TimeDelta::seconds(i64::from(ttl_seconds));
    let quota = ctx.state_quota;
    let put = ctx
        .store("state-put")?
        .tool_state_put(&ctx.plugin, user, key, value, expires_at, quota)
        .await
        .map_err(|err| service_failed("state-put", err))?;
    Ok(match put {
        StatePut::Stored => Ok(()),
        // The SDK turns this prefix into the tool error `state_quota_exceeded`.
        StatePut::QuotaExceeded => Err(format!(
            "{}: this tool may keep at most {} keys and {} of state per user; nothing was stored",
            codes::STATE_QUOTA_EXCEEDED,
            quota.max_keys,
            bytes(quota.max_bytes)
        )),
    })
}

pub async fn take(ctx: &HostCtx, key: &str) -> wasmtime::Result<Option<String>> {
    let user = ctx.user("state-take")?;
    if key.len() > MAX_KEY_BYTES {
        return Ok(None);
    }
    ctx.store("state-take")?
        .tool_state_take(&ctx.plugin, user, key, store::now())
        .await
        .map_err(|err| service_failed("state-take", err))
}

pub async fn delete(ctx: &HostCtx, key: &str) -> wasmtime::Result<()> {
    let user = ctx.user("state-delete")?;
    if key.len() > MAX_KEY_BYTES {
        return Ok(());
    }
    ctx.store("state-delete")?
        .tool_state_delete(&ctx.plugin, user, key)
        .await
        .map_err(|err| service_failed("state-delete", err))
}
