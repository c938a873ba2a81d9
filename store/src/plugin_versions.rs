//! The shared plugin set: every uploaded plugin version, which version of each plugin is active
//! (and the one it replaced, for rollback), which plugins an operator removed, and a generation
//! number bumped by every change so that instances notice changes by reading one row. Every change starts by bumping the generation, which
//! takes the write lock first: concurrent changes queue behind each other (a row lock on Postgres,
//! the database lock on SQLite) and commit in generation order.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Result, Store, with_pool};

/// Identifies one plugin version: the component's and the manifest's sha256 (hex).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct PluginVersionKey {
    pub sha256: String,
    pub manifest_sha256: String,
}

/// A plugin version to store.
#[derive(Clone, Debug)]
pub struct NewPluginVersion<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub key: PluginVersionKey,
    pub manifest: &'a str,
    pub wasm: &'a [u8],
    /// The minisign signature (`plugin.sig`), if the version has one.
    pub signature: Option<&'a str>,
}

/// The active version of one plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActivePlugin {
    pub name: String,
    #[serde(flatten)]
    pub key: PluginVersionKey,
    /// What a rollback would restore.
    pub previous: Option<PluginVersionKey>,
    /// The generation of the change that made this version active.
    pub generation: i64,
    pub changed_at: DateTime<Utc>,
}

/// A stored plugin version with its files.
#[derive(Clone, Debug)]
pub struct StoredPluginVersion {
    pub name: String,
    pub version: String,
    pub key: PluginVersionKey,
    pub manifest: String,
    pub wasm: Vec<u8>,
    pub signature: Option<String>,
    pub uploaded_at: DateTime<Utc>,
}

type ActiveRow = (String, String, String, Option<String>, Option<String>, i64, DateTime<Utc>);

fn active(row: ActiveRow) -> ActivePlugin {
    let (name, sha256, manifest_sha256, previous_sha256, previous_manifest_sha256, generation, changed_at) = row;
    let previous = match (previous_sha256, previous_manifest_sha256) {
        (Some(sha256), Some(manifest_sha256)) => Some(PluginVersionKey { sha256, manifest_sha256 }),
        _ => None,
    };
    ActivePlugin { name, key: PluginVersionKey { sha256, manifest_sha256 }, previous, generation, changed_at }
}

/// The columns of an [`ActiveRow`], then `$tail`.
macro_rules! select_active {
    ($tail:literal) => {
        concat!(
            "SELECT name, sha256, manifest_sha256, previous_sha256, previous_manifest_sha256, generation, changed_at \
             FROM plugin_active ",
            $tail
        )
    };
}

const BUMP: &str =
    "UPDATE plugin_generation SET generation = generation + 1, changed_at = $1 WHERE id = 1 RETURNING generation";

impl Store {
    /// Whether [`Store::close`] was called (background pollers stop then).
    pub fn is_closed(&self) -> bool {
        with_pool!(self, pool => pool.is_closed())
    }

    /// The generation of the last change of the plugin set (0: never changed).
    pub async fn plugin_generation(&self) -> Result<i64> {
        let generation = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT generation FROM plugin_generation WHERE id = 1").fetch_optional(pool).await?
        });
        Ok(generation.unwrap_or(0))
    }

    /// Stores `version` (kept once: uploading the same files again reuses the row) and makes it the
    /// active version of its plugin; the version it replaces becomes the rollback target. Returns the
    /// new generation.
    pub async fn plugin_publish(&self, version: &NewPluginVersion<'_>) -> Result<i64> {
        let now = crate::now();
        let generation = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let generation: i64 = sqlx::query_scalar(BUMP).bind(now).fetch_one(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO plugin_versions (name, sha256, manifest_sha256, version, manifest, wasm, uploaded_at, signature) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name, sha256, manifest_sha256) \
                 DO UPDATE SET signature = COALESCE(excluded.signature, plugin_versions.signature)",
            )
            .bind(version.name)
            .bind(&version.key.sha256)
            .bind(&version.key.manifest_sha256)
            .bind(version.version)
            .bind(version.manifest)
            .bind(version.wasm)
            .bind(now)
            .bind(version.signature)
            .execute(&mut *tx)
            .await?;
            // Re-publishing the active version keeps its rollback target.
            sqlx::query(
                "INSERT INTO plugin_active (name, sha256, manifest_sha256, previous_sha256, previous_manifest_sha256, generation, changed_at) \
                 VALUES ($1, $2, $3, NULL, NULL, $4, $5) \
                 ON CONFLICT (name) DO UPDATE SET \
                   previous_sha256 = CASE WHEN plugin_active.sha256 = excluded.sha256 AND plugin_active.manifest_sha256 = excluded.manifest_sha256 \
                     THEN plugin_active.previous_sha256 ELSE plugin_active.sha256 END, \
                   previous_manifest_sha256 = CASE WHEN plugin_active.sha256 = excluded.sha256 AND plugin_active.manifest_sha256 = excluded.manifest_sha256 \
                     THEN plugin_active.previous_manifest_sha256 ELSE plugin_active.manifest_sha256 END, \
                   sha256 = excluded.sha256, manifest_sha256 = excluded.manifest_sha256, \
                   generation = excluded.generation, changed_at = excluded.changed_at",
            )
            .bind(version.name)
            .bind(&version.key.sha256)
            .bind(&version.key.manifest_sha256)
            .bind(generation)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // An upload brings a removed plugin back.
            sqlx::query("DELETE FROM plugin_removed WHERE name = $1").bind(version.name).execute(&mut *tx).await?;
            tx.commit().await?;
            generation
        });
        Ok(generation)
    }

    /// Removes plugin `name` from the shared set: its active entry goes and its name is recorded as
    /// removed, so every instance drops it (the copy in its plugins directory too) until a new
    /// upload. Its stored versions stay. Returns the entry that was active, if any.
    pub async fn plugin_remove(&self, name: &str) -> Result<Option<ActivePlugin>> {
        let now = crate::now();
        let row = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let generation: i64 = sqlx::query_scalar(BUMP).bind(now).fetch_one(&mut *tx).await?;
            let row: Option<ActiveRow> = sqlx::query_as(
                "DELETE FROM plugin_active WHERE name = $1 \
                 RETURNING name, sha256, manifest_sha256, previous_sha256, previous_manifest_sha256, generation, changed_at",
            )
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO plugin_removed (name, generation, removed_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET generation = excluded.generation, removed_at = excluded.removed_at",
            )
            .bind(name)
            .bind(generation)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            row
        });
        Ok(row.map(active))
    }

    /// The names of the plugins removed (and not uploaded again since), by name.
    pub async fn plugin_removed_set(&self) -> Result<Vec<String>> {
        let names = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT name FROM plugin_removed ORDER BY name").fetch_all(pool).await?
        });
        Ok(names)
    }

    /// Swaps plugin `name`'s active version with its rollback target (a second rollback returns to
    /// the newer one). `None` when the plugin has no active version or nothing to roll back to.
    pub async fn plugin_rollback(&self, name: &str) -> Result<Option<ActivePlugin>> {
        let now = crate::now();
        let row = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let generation: i64 = sqlx::query_scalar(BUMP).bind(now).fetch_one(&mut *tx).await?;
            // The right-hand sides read the row as it was, so this swaps the two versions.
            let row: Option<ActiveRow> = sqlx::query_as(
                "UPDATE plugin_active SET sha256 = previous_sha256, manifest_sha256 = previous_manifest_sha256, \
                   previous_sha256 = sha256, previous_manifest_sha256 = manifest_sha256, generation = $2, changed_at = $3 \
                 WHERE name = $1 AND previous_sha256 IS NOT NULL \
                 RETURNING name, sha256, manifest_sha256, previous_sha256, previous_manifest_sha256, generation, changed_at",
            )
            .bind(name)
            .bind(generation)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            // Nothing changed: leave the generation alone too.
            if row.is_some() { tx.commit().await? } else { tx.rollback().await? }
            row
        });
        Ok(row.map(active))
    }

    /// The active version of every plugin that has one, by name.
    pub async fn plugin_active_set(&self) -> Result<Vec<ActivePlugin>> {
        let rows: Vec<ActiveRow> = with_pool!(self, pool => {
            sqlx::query_as(select_active!("ORDER BY name"))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(active).collect())
    }

    /// The active version of plugin `name`, if it has one.
    pub async fn plugin_active(&self, name: &str) -> Result<Option<ActivePlugin>> {
        let row: Option<ActiveRow> = with_pool!(self, pool => {
            sqlx::query_as(select_active!("WHERE name = $1"))
            .bind(name)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(active))
    }

    /// One stored version with its files.
    pub async fn plugin_version(&self, name: &str, key: &PluginVersionKey) -> Result<Option<StoredPluginVersion>> {
        type Row = (String, String, String, Vec<u8>, Option<String>, DateTime<Utc>);
        let row: Option<Row> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT name, version, manifest, wasm, signature, uploaded_at FROM plugin_versions \
                 WHERE name = $1 AND sha256 = $2 AND manifest_sha256 = $3",
            )
            .bind(name)
            .bind(&key.sha256)
            .bind(&key.manifest_sha256)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(name, version, manifest, wasm, signature, uploaded_at)| StoredPluginVersion {
            name,
            version,
            key: key.clone(),
            manifest,
            wasm,
            signature,
            uploaded_at,
        }))
    }

    /// The version number and key of every stored version of plugin `name` (the replay check:
    /// an upload must be newer than all of them).
    pub async fn plugin_version_history(&self, name: &str) -> Result<Vec<(String, PluginVersionKey)>> {
        let rows: Vec<(String, String, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT version, sha256, manifest_sha256 FROM plugin_versions WHERE name = $1 ORDER BY uploaded_at",
            )
            .bind(name)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(version, sha256, manifest_sha256)| (version, PluginVersionKey { sha256, manifest_sha256 }))
            .collect())
    }
}
