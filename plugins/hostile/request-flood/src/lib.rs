//! Hostile: `flood` opens `count` outgoing requests at once (default 64) without awaiting any, then
//! collects what became of each; twice, to show that the slots of the first round were given back.
//! The host lets `max_requests_in_flight` through and refuses the rest with
//! `connection-limit-reached`; the call ends cleanly.

use amakaflow_tool_sdk::bindings::wasi::http::outgoing_handler;
use amakaflow_tool_sdk::bindings::wasi::http::types::{ErrorCode, Fields, OutgoingBody, OutgoingRequest, Scheme};
use amakaflow_tool_sdk::prelude::*;

/// Arguments of `flood`.
#[derive(Deserialize, JsonSchema)]
struct Flood {
    /// Requests opened at once in each round (default 64).
    count: Option<u32>,
}

/// What became of one round's requests.
#[derive(Default, Serialize)]
struct Round {
    answered: u32,
    refused: u32,
    /// Any other failure, as the wasi:http error code.
    other: Vec<String>,
}

fn round(authority: &str, count: u32) -> Result<Round, ToolError> {
    let mut round = Round::default();
    let mut pending = Vec::new();
    for i in 0..count {
        let request = OutgoingRequest::new(Fields::new());
        let invalid = |()| ToolError::internal("the request was refused before it was sent");
        request.set_scheme(Some(&Scheme::Http)).map_err(invalid)?;
        request.set_authority(Some(authority)).map_err(invalid)?;
        request.set_path_with_query(Some(&format!("/flood/{i}"))).map_err(invalid)?;
        let body = request.body().map_err(invalid)?;
        match outgoing_handler::handle(request, None) {
            Ok(future) => pending.push(future),
            Err(code) => round.other.push(format!("{code:?}")),
        }
        OutgoingBody::finish(body, None).map_err(|code| ToolError::internal(format!("{code:?}")))?;
    }
    for future in pending {
        let result = loop {
            match future.get() {
                Some(result) => break result,
                None => future.subscribe().block(),
            }
        };
        match result {
            // Dropped unread: that gives its slot back.
            Ok(Ok(_response)) => round.answered += 1,
            Ok(Err(ErrorCode::ConnectionLimitReached)) => round.refused += 1,
            Ok(Err(code)) => round.other.push(format!("{code:?}")),
            Err(()) => round.other.push("response already taken".into()),
        }
    }
    Ok(round)
}

fn flood(_ctx: &Context, args: Flood) -> Result<Value, ToolError> {
    let origin = config::required("origin")?;
    let authority = origin.trim_start_matches("http://").trim_end_matches('/');
    let count = args.count.unwrap_or(64);
    let first = round(authority, count)?;
    let second = round(authority, count)?;
    Ok(json!({"rounds": [first, second]}))
}

fn plugin() -> Plugin {
    Plugin::new().function("flood", "Opens many requests at once.", flood)
}

amakaflow_tool_sdk::export_plugin!(plugin);
