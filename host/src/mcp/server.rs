//! The MCP protocol handler of one session (or one stateless request): what the server offers
//! (tools, with `listChanged`), which protocol revisions it speaks, and who is calling. The caller
//! is the [`AuthUser`] the HTTP layer put on each request; a session belongs to the user who opened
//! it, and a request from anyone else on it is refused.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, InitializeRequestParams, InitializeResult,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, SubscriptionFilter,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::McpDeps;
use crate::api::REQUEST_ID;
use crate::auth::AuthUser;

/// The revisions served: 2025-06-18 (the oldest the official SDKs still speak) to 2026-07-28.
const SUPPORTED_VERSIONS: &[ProtocolVersion] =
    &[ProtocolVersion::V_2025_06_18, ProtocolVersion::V_2025_11_25, ProtocolVersion::V_2026_07_28];

/// Serves one session's (or one stateless request's) MCP requests.
pub struct ToolHost {
    pub(super) deps: Arc<McpDeps>,
    /// The user who opened the session (set by `initialize`, or by the first request).
    owner: OnceLock<String>,
    /// Cancelled when the session ends (the SDK drops its handler), stopping its notifications.
    ended: CancellationToken,
    _end_on_drop: DropGuard,
}

/// Who a request comes from, as the tool runtime needs it.
pub(super) struct RequestCaller {
    pub user: AuthUser,
    pub request_id: String,
}

impl ToolHost {
    pub fn new(deps: Arc<McpDeps>) -> ToolHost {
        let ended = CancellationToken::new();
        ToolHost { deps, owner: OnceLock::new(), _end_on_drop: ended.clone().drop_guard(), ended }
    }

    /// The caller of a request: the user authenticated by the HTTP layer, who must own the session.
    pub(super) fn caller(&self, context: &RequestContext<RoleServer>) -> Result<RequestCaller, ErrorData> {
        let parts = context.extensions.get::<http::request::Parts>();
        let user = parts.and_then(|parts| parts.extensions.get::<AuthUser>()).cloned();
        // The HTTP layer refuses unauthenticated requests before they get here.
        let user = user.ok_or_else(|| ErrorData::internal_error("request without an authenticated user", None))?;
        let owner = self.owner.get_or_init(|| user.user_id.clone());
        if *owner != user.user_id {
            return Err(ErrorData::invalid_request("This session belongs to another user.", None));
        }
        let request_id = parts
            .and_then(|parts| parts.headers.get(REQUEST_ID))
            .and_then(|id| id.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok(RequestCaller { user, request_id })
    }
}

impl ServerHandler for ToolHost {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().enable_tool_list_changed().build())
            .with_server_info(Implementation::new("amakaflow-chat", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "AmakaFlow's fitness tools: search and plan workouts, manage the calendar, import \
                 workouts, sync with Strava and Garmin. Calls run as the signed-in user.",
            )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(SUPPORTED_VERSIONS)
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        let caller = self.caller(&context)?;
        tracing::info!(
            request_id = %caller.request_id,
            user_id = %caller.user.user_id,
            protocol_version = %request.protocol_version,
            client = %request.client_info.name,
            "mcp session opened"
        );
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        super::list_changed::follow_for_session(&self.deps.tools, context.peer, self.ended.clone());
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.caller(&context)?;
        super::listing::page(&self.deps.tools.functions(), request.and_then(|r| r.cursor).as_deref())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&context)?;
        super::calling::call(self, caller, request, &context).await.map(CallToolResponse::from)
    }

    fn accepted_subscription_filter(&self, _requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(SubscriptionFilter::builder().tools_list_changed().build())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        self.caller(context.request_context())?;
        super::list_changed::follow_for_subscription(&self.deps.tools, &context).await;
        Ok(())
    }
}
