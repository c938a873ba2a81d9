//! Who a call is made for. The host fills it in; it carries no credentials (the user's token is
//! added by the host to outgoing requests the manifest allows, and never enters the sandbox).

use crate::bindings::amakaflow::tool::types::CallContext;

/// The caller of one function call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The authenticated user (Clerk `sub`, or the API-key user).
    pub user_id: String,
    /// The chat session the call belongs to, when there is one.
    pub session_id: Option<String>,
    /// Correlation id of the request that started the turn; the host tags log lines with it.
    pub request_id: String,
    /// The function being called (useful when one handler serves several functions).
    pub function: String,
}

impl Context {
    pub(crate) fn new(raw: CallContext, function: &str) -> Context {
        Context {
            user_id: raw.user_id,
            session_id: raw.session_id,
            request_id: raw.request_id,
            function: function.to_string(),
        }
    }

    /// A context for unit tests (what [`MockHost::call`](crate::testing::MockHost::call) passes).
    pub fn for_tests(user_id: &str, function: &str) -> Context {
        Context {
            user_id: user_id.to_string(),
            session_id: None,
            request_id: "test".to_string(),
            function: function.to_string(),
        }
    }
}
