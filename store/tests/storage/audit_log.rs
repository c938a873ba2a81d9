//! The admin audit log on both backends: entries come back newest first with every field as
//! written, a page at a time by id, for one plugin or all; a hostile text (a NUL) cannot fail an
//! insert.

use store::testing::BACKENDS;
use store::{AuditQuery, NewAuditEntry};

#[tokio::test]
async fn entries_come_back_newest_first_by_page_and_by_plugin() {
    for backend in BACKENDS {
        let db = super::database(backend).await;
        let store = &db.store;
        let first = NewAuditEntry {
            key_id: Some("ba7816bf8f01"),
            actor: Some("alice"),
            action: "upload",
            plugin: Some("mapper"),
            version: Some("1.2.0"),
            sha256: Some("a1b2"),
            outcome: "succeeded",
            detail: None,
            request_id: Some("req-1"),
        };
        let ids = [
            store.audit_record(&first).await.unwrap(),
            store
                .audit_record(&NewAuditEntry {
                    action: "delete",
                    plugin: Some("calendar"),
                    outcome: "refused",
                    ..first.clone()
                })
                .await
                .unwrap(),
            store
                .audit_record(&NewAuditEntry {
                    action: "reload",
                    plugin: Some("mapper\0evil"),
                    outcome: "rejected",
                    detail: Some("manifest: bad\0byte"),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|e| panic!("{backend:?}: a NUL must not fail the write: {e}")),
        ];
        assert!(ids[0] < ids[1] && ids[1] < ids[2], "{backend:?}: {ids:?}");

        let all = store.audit_entries(&AuditQuery { plugin: None, before: None, limit: 10 }).await.unwrap();
        let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["reload", "delete", "upload"], "{backend:?}");
        let upload = &all[2];
        assert_eq!(
            (upload.key_id.as_deref(), upload.actor.as_deref(), upload.version.as_deref(), upload.sha256.as_deref()),
            (Some("ba7816bf8f01"), Some("alice"), Some("1.2.0"), Some("a1b2"))
        );
        assert_eq!(
            (upload.outcome.as_str(), upload.request_id.as_deref(), upload.detail.as_deref()),
            ("succeeded", Some("req-1"), None)
        );
        assert!(all[0].at >= all[2].at);
        assert_eq!(all[0].plugin.as_deref(), Some("mapper\u{FFFD}evil"), "{backend:?}");
        assert_eq!(all[0].detail.as_deref(), Some("manifest: bad\u{FFFD}byte"));
        assert_eq!(all[0].key_id, None);

        let page = store.audit_entries(&AuditQuery { plugin: None, before: Some(ids[2]), limit: 1 }).await.unwrap();
        assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[1]]);
        let mapper =
            store.audit_entries(&AuditQuery { plugin: Some("mapper"), before: None, limit: 10 }).await.unwrap();
        assert_eq!(mapper.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[0]], "{backend:?}");
    }
}
