//! The admin plane's audit log: who did what to which plugin version, and how it ended. The HTTP
//! layer records one entry per admin action (refused and failed ones included) and serves the log
//! newest first, a page at a time, optionally for one plugin. Entries are only ever added; their
//! texts go through [`crate::text::storable`] like every other text, so a hostile plugin name
//! cannot make an insert fail.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::text::storable;
use crate::{Result, Store, with_pool};

/// One admin action to record. The vocabulary of `action` and `outcome` is the caller's.
#[derive(Clone, Debug, Default)]
pub struct NewAuditEntry<'a> {
    /// The id of the key the request presented (a short hash), if it presented one.
    pub key_id: Option<&'a str>,
    /// The operator name the request claimed.
    pub actor: Option<&'a str>,
    pub action: &'a str,
    pub plugin: Option<&'a str>,
    pub version: Option<&'a str>,
    pub sha256: Option<&'a str>,
    pub outcome: &'a str,
    /// Why it failed or was refused, or what it did (never a secret value).
    pub detail: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// A recorded admin action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    /// Increases with every entry: the page cursor.
    pub id: i64,
    pub at: DateTime<Utc>,
    pub key_id: Option<String>,
    pub actor: Option<String>,
    pub action: String,
    pub plugin: Option<String>,
    pub version: Option<String>,
    pub sha256: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub request_id: Option<String>,
}

/// Which entries to read: newest first, at most `limit`, older than the entry `before` (the
/// cursor of the next page), of one plugin.
#[derive(Clone, Copy, Debug)]
pub struct AuditQuery<'a> {
    pub plugin: Option<&'a str>,
    pub before: Option<i64>,
    pub limit: u32,
}

impl Store {
    /// Adds `entry` to the log; returns its id.
    pub async fn audit_record(&self, entry: &NewAuditEntry<'_>) -> Result<i64> {
        let text = |value: Option<&str>| value.map(|v| storable(v).into_owned());
        let id = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO admin_audit_log \
                   (at, key_id, actor, action, plugin, version, sha256, outcome, detail, request_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(crate::now())
            .bind(text(entry.key_id))
            .bind(text(entry.actor))
            .bind(storable(entry.action))
            .bind(text(entry.plugin))
            .bind(text(entry.version))
            .bind(text(entry.sha256))
            .bind(storable(entry.outcome))
            .bind(text(entry.detail))
            .bind(text(entry.request_id))
            .fetch_one(pool)
            .await?
        });
        Ok(id)
    }

    /// The entries `query` selects, newest first.
    pub async fn audit_entries(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditEntry>> {
        let entries = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, at, key_id, actor, action, plugin, version, sha256, outcome, detail, request_id \
                 FROM admin_audit_log WHERE ($1 IS NULL OR plugin = $1) AND ($2 IS NULL OR id < $2) \
                 ORDER BY id DESC LIMIT $3",
            )
            .bind(query.plugin)
            .bind(query.before)
            .bind(i64::from(query.limit))
            .fetch_all(pool)
            .await?
        });
        Ok(entries)
    }
}
