//! Feature flags: global values overridden per user, as the original `get_user_feature_flags` RPC
//! merged them. The chat gate and the quota tier are read from here.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::types::Json;

use crate::{Result, Store, with_pool};

/// The merged flags of one user.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeatureFlags(pub HashMap<String, Value>);

impl FeatureFlags {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A boolean flag; anything that is not a JSON boolean counts as absent.
    pub fn bool(&self, key: &str, default: bool) -> bool {
        self.get(key).and_then(Value::as_bool).unwrap_or(default)
    }

    /// Whether the user may chat: `chat_enabled` (default true) and, during a beta period
    /// (`chat_beta_period`, default false), `chat_beta_access` (default false).
    pub fn chat_allowed(&self) -> bool {
        self.bool("chat_enabled", true)
            && (!self.bool("chat_beta_period", false) || self.bool("chat_beta_access", false))
    }
}

/// Which scope a flag row belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagScope<'a> {
    Global,
    User(&'a str),
}

impl Store {
    /// The flags of `user_id`: every global flag, replaced by the user's own where one exists.
    pub async fn feature_flags(&self, user_id: &str) -> Result<FeatureFlags> {
        let rows: Vec<(String, String, Json<Value>)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT flag_key, scope, value FROM feature_flags \
                 WHERE scope = 'global' OR (scope = 'user' AND user_id = $1)",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        let mut flags = HashMap::new();
        // Globals first, then user rows overwrite them.
        let (globals, users): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, scope, _)| scope == "global");
        for (key, _, Json(value)) in globals.into_iter().chain(users) {
            flags.insert(key, value);
        }
        Ok(FeatureFlags(flags))
    }

    /// Sets a flag (operators, tests and the dev stack use this; production edits the table).
    pub async fn set_feature_flag(&self, key: &str, scope: FlagScope<'_>, value: Value) -> Result<()> {
        let (scope_name, user) = match scope {
            FlagScope::Global => ("global", ""),
            FlagScope::User(u) => ("user", u),
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM feature_flags WHERE flag_key = $1 AND scope = $2 AND COALESCE(user_id, '') = $3")
                .bind(key)
                .bind(scope_name)
                .bind(user)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO feature_flags (flag_key, scope, user_id, value, updated_at) VALUES ($1, $2, NULLIF($3, ''), $4, $5)")
                .bind(key)
                .bind(scope_name)
                .bind(user)
                .bind(Json(value))
                .bind(crate::now())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flags(pairs: &[(&str, Value)]) -> FeatureFlags {
        FeatureFlags(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn chat_is_allowed_by_default() {
        assert!(FeatureFlags::default().chat_allowed());
    }

    #[test]
    fn beta_period_requires_beta_access() {
        assert!(!flags(&[("chat_beta_period", json!(true))]).chat_allowed());
        assert!(flags(&[("chat_beta_period", json!(true)), ("chat_beta_access", json!(true))]).chat_allowed());
        assert!(!flags(&[("chat_enabled", json!(false)), ("chat_beta_access", json!(true))]).chat_allowed());
    }
}
