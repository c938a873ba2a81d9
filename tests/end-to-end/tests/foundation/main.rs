//! The service foundation, end to end against real servers: authentication (a real JWKS server on
//! loopback), quotas and flags, the sessions API, HTTP input handling, health and CORS. Everything
//! that touches storage runs on SQLite and on the local Postgres.

use end_to_end::server::read_json as read;
use reqwest::StatusCode;
use serde_json::Value;
use store::testing::{BACKENDS, TestDatabase};
use store::{Backend, Store};

async fn database(backend: Backend) -> TestDatabase {
    TestDatabase::new(backend).await.unwrap_or_else(|e| panic!("{backend:?} test database: {e}"))
}

mod auth;

mod quota;

mod sessions;

mod http_input;

mod health;
