//! Hostile: `stall` starts a POST, writes part of its body and never finishes it, never reads the
//! response, and waits for the host to stop the call. The host must hang up on the server by the
//! call's deadline and leave no request behind.

use std::time::Duration;

use amakaflow_tool_sdk::bindings::wasi::http::outgoing_handler;
use amakaflow_tool_sdk::bindings::wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
use amakaflow_tool_sdk::prelude::*;

fn stall(_ctx: &Context, _args: NoArgs) -> Result<Value, ToolError> {
    let origin = config::required("origin")?;
    let authority = origin.trim_start_matches("http://").trim_end_matches('/');
    let request = OutgoingRequest::new(Fields::new());
    let invalid = |()| ToolError::internal("the request was refused before it was sent");
    request.set_method(&Method::Post).map_err(invalid)?;
    request.set_scheme(Some(&Scheme::Http)).map_err(invalid)?;
    request.set_authority(Some(authority)).map_err(invalid)?;
    request.set_path_with_query(Some("/stalled")).map_err(invalid)?;
    let body = request.body().map_err(invalid)?;
    let _response = outgoing_handler::handle(request, None).map_err(|code| ToolError::internal(format!("{code:?}")))?;
    let stream = body.write().map_err(invalid)?;
    stream
        .blocking_write_and_flush(b"the start of a body that never ends")
        .map_err(|err| ToolError::internal(format!("{err:?}")))?;
    // Neither the body finished nor the response read: wait for the deadline.
    std::thread::sleep(Duration::from_secs(3600));
    Ok(json!({"stalled": false}))
}

fn plugin() -> Plugin {
    Plugin::new().function("stall", "Starts a POST and never finishes it.", stall)
}

amakaflow_tool_sdk::export_plugin!(plugin);
