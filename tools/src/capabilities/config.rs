//! `config`: the manifest's `[config]` values (already interpolated at load). Available while
//! describing too, since it involves no user.

use super::HostCtx;

pub fn get(ctx: &HostCtx, key: &str) -> Option<String> {
    ctx.config.get(key).cloned()
}
