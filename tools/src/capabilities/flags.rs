//! `feature-flag`: the calling user's flags (user scope over global), as JSON text.

use super::{HostCtx, service_failed};

pub async fn get(ctx: &HostCtx, key: &str) -> wasmtime::Result<Option<String>> {
    let user = ctx.user("feature-flag")?;
    let flags =
        ctx.store("feature-flag")?.feature_flags(user).await.map_err(|err| service_failed("feature-flag", err))?;
    Ok(flags.get(key).map(|value| value.to_string()))
}
