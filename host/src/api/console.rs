//! The operator console: `GET /admin/` serves one static HTML page and `GET /admin/console.js` its
//! script (no build step). The page holds no data and needs no credential to load; everything it
//! shows or does goes through the admin API with the key the operator types into it, sent as the
//! bearer token, so it can do exactly what `ADMIN_API_KEY` can and nothing more (every action in
//! the audit log). The strict content security policy allows only this script and requests to this
//! origin, so a plugin name or an audit detail can never run as code even if a bug rendered it.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;

use super::state::AppState;

const PAGE: &str = include_str!("console.html");
const SCRIPT: &str = include_str!("console.js");

/// Script from this origin only, requests to this origin only, never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(page))
        .route("/admin/console.js", get(script))
}

/// The headers of both files: never cached (a new release is picked up at once), never framed.
fn headers(content_type: &'static str) -> [(header::HeaderName, &'static str); 5] {
    [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ]
}

async fn page() -> impl IntoResponse {
    (headers("text/html; charset=utf-8"), PAGE)
}

async fn script() -> impl IntoResponse {
    (headers("text/javascript; charset=utf-8"), SCRIPT)
}
