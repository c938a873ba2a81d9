//! `notifications/tools/list_changed`: every swap of the tool set (a hot reload, an upload, a
//! rollback, a removal, here or through another instance's database poll) is told to every open
//! session (the older revisions: on the session's stream) and every `subscriptions/listen`
//! subscription (2026-07-28). Changes that come faster than a client reads are folded into one.

use std::sync::Arc;

use rmcp::Peer;
use rmcp::RoleServer;
use rmcp::service::SubscriptionContext;
use tokio_util::sync::CancellationToken;
use tools::Registry;

/// Tells the session's client of each change until the session ends.
pub fn follow_for_session(tools: &Arc<Registry>, peer: Peer<RoleServer>, ended: CancellationToken) {
    let mut changes = tools.subscribe_changes();
    changes.mark_unchanged();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() || peer.notify_tool_list_changed().await.is_err() {
                        return;
                    }
                }
                _ = ended.cancelled() => return,
            }
        }
    });
}

/// Tells the subscriber of each change until the subscription is cancelled or its stream closes.
pub async fn follow_for_subscription(tools: &Arc<Registry>, subscription: &SubscriptionContext) {
    let mut changes = tools.subscribe_changes();
    changes.mark_unchanged();
    loop {
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() || subscription.sink().notify_tool_list_changed().await.is_err() {
                    return;
                }
            }
            _ = subscription.cancelled() => return,
        }
    }
}
