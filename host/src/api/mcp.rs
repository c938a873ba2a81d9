//! `/mcp`, the tool host as an MCP server ([`crate::mcp`]), behind the chat's authentication: a
//! request without valid user credentials (Clerk JWT, pairing token, API key) is answered 401 with
//! `WWW-Authenticate: Bearer resource_metadata="…"` pointing at this service's RFC 9728 document,
//! `/.well-known/oauth-protected-resource`, which names the Clerk instance as the authorization
//! server, so an OAuth-capable MCP client can sign the user in and retry.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use crate::auth::AuthUser;
use crate::auth::clerk::clerk_origin;
use crate::config::Config;
use crate::mcp::{self, McpDeps};

/// The MCP endpoint.
pub const MCP_PATH: &str = "/mcp";
/// RFC 9728's metadata of the protected resource (and the path-suffixed form clients try first).
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

pub fn routes(state: &AppState) -> Router<AppState> {
    let config = &state.config;
    let deps = Arc::new(McpDeps {
        tools: state.tools.clone(),
        store: state.store.clone(),
        calls_per_hour: config.mcp.calls_per_hour,
        progress_interval: config.mcp.progress_interval,
    });
    let service = mcp::service(deps, &config.server.allowed_origins, config.server.max_body_bytes);
    let authenticated = Router::new()
        .route_service(MCP_PATH, service)
        .layer(axum::middleware::from_fn_with_state(state.clone(), authenticate));
    authenticated
        .route(METADATA_PATH, get(resource_metadata))
        .route(&format!("{METADATA_PATH}{MCP_PATH}"), get(resource_metadata))
}

/// Lets only authenticated users through, with their [`AuthUser`] on the request for the MCP
/// handler; answers the others 401 with the RFC 9728 pointer.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match AuthUser::from_request_parts(&mut parts, &state).await {
        Ok(user) => {
            parts.extensions.insert(user);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(error) => {
            let mut response = error.into_response();
            if response.status() == axum::http::StatusCode::UNAUTHORIZED {
                let challenge = format!(r#"Bearer resource_metadata="{}{METADATA_PATH}{MCP_PATH}""#, base_url(&parts));
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                }
            }
            response
        }
    }
}

/// The RFC 9728 document: this resource, the Clerk instance that issues its tokens, bearer tokens
/// in the `Authorization` header.
async fn resource_metadata(State(config): State<Arc<Config>>, parts: Parts) -> Result<Response, ApiError> {
    let auth = &config.auth;
    let issuer = match (&auth.clerk_issuer, &auth.clerk_domain) {
        (Some(issuer), _) => issuer.clone(),
        (None, Some(domain)) => clerk_origin(domain),
        (None, None) => return Err(ApiError::NotFound("No authorization server is configured.".to_string())),
    };
    let body = json!({
        "resource": format!("{}{MCP_PATH}", base_url(&parts)),
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
        "resource_name": "AmakaFlow tools",
    });
    Ok(Json(body).into_response())
}

/// This service's origin as the client reached it: the load balancer's scheme
/// (`X-Forwarded-Proto`) and the requested host.
fn base_url(parts: &Parts) -> String {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = header("x-forwarded-proto").filter(|s| matches!(*s, "http" | "https")).unwrap_or("http");
    let host = parts.uri.authority().map(|a| a.as_str()).or_else(|| header("host")).unwrap_or("localhost");
    format!("{scheme}://{host}")
}
