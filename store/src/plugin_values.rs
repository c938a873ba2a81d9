//! Per-plugin settings and secrets: the values operators manage through the admin API and
//! manifests interpolate (`${setting:NAME}`, `${secret:NAME}`). Settings are stored as plain text;
//! secrets only sealed under the [`SecretsKey`] (see [`crate::secrets_key`]). Listings never carry
//! a secret's value; only [`Store::plugin_values_all`], which the tool runtime loads them with,
//! opens them. Every change bumps one generation row in the same transaction (taking the write
//! lock first, like the plugin set's), so other instances notice a change by reading that row.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::secrets_key::{Sealed, SecretsKey};
use crate::{Result, Store, StoreError, with_pool};

/// Which kind of value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// Plain text, allowed anywhere in a manifest.
    Setting,
    /// Encrypted at rest; allowed only in egress headers of exact origins.
    Secret,
}

impl ValueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::Setting => "setting",
            ValueKind::Secret => "secret",
        }
    }
}

/// One stored value as listed: a secret's value is never included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValueListing {
    pub name: String,
    /// The setting's value; `None` for a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// One stored value with its plaintext, as the runtime interpolates it.
#[derive(Clone, PartialEq, Eq)]
pub struct PluginValue {
    pub plugin: String,
    pub kind: ValueKind,
    pub name: String,
    pub value: String,
}

impl std::fmt::Debug for PluginValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = match self.kind {
            ValueKind::Setting => self.value.as_str(),
            ValueKind::Secret => "<redacted>",
        };
        write!(f, "{} {} of {} = {shown:?}", self.kind.as_str(), self.name, self.plugin)
    }
}

/// What a set did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueChange {
    /// The value is new (not a rotation of an existing one).
    pub created: bool,
    pub generation: i64,
}

const BUMP: &str = "UPDATE plugin_values_generation SET generation = generation + 1, changed_at = $1 \
                    WHERE id = 1 RETURNING generation";

impl Store {
    /// The generation of the last change of any plugin's values (0: never changed).
    pub async fn plugin_values_generation(&self) -> Result<i64> {
        let generation = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT generation FROM plugin_values_generation WHERE id = 1")
                .fetch_optional(pool)
                .await?
        });
        Ok(generation.unwrap_or(0))
    }

    /// Sets (or replaces) value `name` of plugin `plugin`; a secret is sealed under `key` first.
    pub async fn plugin_value_set(
        &self,
        key: &SecretsKey,
        plugin: &str,
        kind: ValueKind,
        name: &str,
        value: &str,
    ) -> Result<ValueChange> {
        let (plain, sealed) = match kind {
            ValueKind::Setting => (Some(value), None),
            ValueKind::Secret => (None, Some(key.seal(plugin, name, value))),
        };
        let now = crate::now();
        let change = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let generation: i64 = sqlx::query_scalar(BUMP).bind(now).fetch_one(&mut *tx).await?;
            let existed: Option<String> =
                sqlx::query_scalar("SELECT name FROM plugin_values WHERE plugin = $1 AND kind = $2 AND name = $3")
                    .bind(plugin)
                    .bind(kind.as_str())
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
            sqlx::query(
                "INSERT INTO plugin_values (plugin, kind, name, value, ciphertext, nonce, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (plugin, kind, name) DO UPDATE SET value = excluded.value, \
                   ciphertext = excluded.ciphertext, nonce = excluded.nonce, updated_at = excluded.updated_at",
            )
            .bind(plugin)
            .bind(kind.as_str())
            .bind(name)
            .bind(plain)
            .bind(sealed.as_ref().map(|s| s.ciphertext.as_slice()))
            .bind(sealed.as_ref().map(|s| s.nonce.as_slice()))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            ValueChange { created: existed.is_none(), generation }
        });
        Ok(change)
    }

    /// Deletes value `name` of plugin `plugin`. `None` (and no generation change) when there was none.
    pub async fn plugin_value_delete(&self, plugin: &str, kind: ValueKind, name: &str) -> Result<Option<i64>> {
        let now = crate::now();
        let generation = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let generation: i64 = sqlx::query_scalar(BUMP).bind(now).fetch_one(&mut *tx).await?;
            let deleted = sqlx::query("DELETE FROM plugin_values WHERE plugin = $1 AND kind = $2 AND name = $3")
                .bind(plugin)
                .bind(kind.as_str())
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                tx.rollback().await?;
                None
            } else {
                tx.commit().await?;
                Some(generation)
            }
        });
        Ok(generation)
    }

    /// The values of one kind of plugin `plugin`, by name; a secret's value is never read.
    pub async fn plugin_value_list(&self, plugin: &str, kind: ValueKind) -> Result<Vec<ValueListing>> {
        let rows: Vec<(String, Option<String>, DateTime<Utc>)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT name, CASE WHEN kind = 'setting' THEN value END, updated_at FROM plugin_values \
                 WHERE plugin = $1 AND kind = $2 ORDER BY name",
            )
            .bind(plugin)
            .bind(kind.as_str())
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(name, value, updated_at)| ValueListing { name, value, updated_at }).collect())
    }

    /// Every plugin's values, secrets opened with `key`, by plugin, kind and name. Fails naming the
    /// first secret that does not open (a wrong `PLUGIN_SECRETS_KEY`), never showing a value.
    pub async fn plugin_values_all(&self, key: &SecretsKey) -> Result<Vec<PluginValue>> {
        type Row = (String, String, String, Option<String>, Option<Vec<u8>>, Option<Vec<u8>>);
        let rows: Vec<Row> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT plugin, kind, name, value, ciphertext, nonce FROM plugin_values ORDER BY plugin, kind, name",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(plugin, kind, name, value, ciphertext, nonce)| {
                let (kind, value) = match (kind.as_str(), value, ciphertext, nonce) {
                    ("setting", Some(value), _, _) => (ValueKind::Setting, value),
                    ("secret", _, Some(ciphertext), Some(nonce)) => {
                        let opened = key.open(&plugin, &name, &Sealed { ciphertext, nonce });
                        let value = opened
                            .map_err(|err| StoreError::Secret(format!("secret {name} of plugin {plugin} {err}")))?;
                        (ValueKind::Secret, value)
                    }
                    _ => return Err(StoreError::Secret(format!("value {name} of plugin {plugin} is malformed"))),
                };
                Ok(PluginValue { plugin, kind, name, value })
            })
            .collect()
    }
}
