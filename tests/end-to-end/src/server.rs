//! The service under test: the real `host::app::App`, configured from a map of variables (never
//! the process environment), served on `127.0.0.1:0` in a background task over its own database.
//! Suites talk to it over HTTP like a client would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use host::api::AppState;
use host::app::App;
use host::config::{Config, ConfigError};
use store::Store;
use store::testing::TestDatabase;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The `X-Test-Auth` secret test servers accept.
pub const TEST_AUTH_SECRET: &str = "test-auth-secret-for-suites";

/// A configuration built only from `overrides` on top of test defaults (`ENVIRONMENT=test`, the
/// test-auth secret, no plugin watching). A blank value unsets a default.
pub fn test_config(overrides: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut vars: HashMap<String, String> = [
        ("ENVIRONMENT", "test"),
        ("TEST_AUTH_SECRET", TEST_AUTH_SECRET),
        ("PLUGINS_WATCH", "false"),
        ("SHUTDOWN_GRACE_SECONDS", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(&move |name| vars.get(name).cloned())
}

/// A running service, handed over ready: its tool set is loaded (as a load balancer routes to an
/// instance only once `/health/ready` is 200).
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    pub addr: SocketAddr,
    /// The shared state of the running app (its store, config, shutdown handle).
    pub state: AppState,
    client: reqwest::Client,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    /// Kept alive as long as the server: the database and an empty plugin directory.
    _db: Option<TestDatabase>,
    _plugins_dir: tempfile::TempDir,
}

impl TestServer {
    /// Serves the app over `db` with `overrides` applied to the test configuration.
    pub async fn start(overrides: &[(&str, &str)], db: TestDatabase) -> anyhow::Result<TestServer> {
        let store = db.store.clone();
        Self::start_with_store(overrides, store, Some(db)).await
    }

    /// Serves the app over a store the caller opened (for example through a [`crate::tcp_proxy`]).
    /// `keep` is dropped together with the server.
    pub async fn start_with_store(
        overrides: &[(&str, &str)],
        store: Store,
        keep: Option<TestDatabase>,
    ) -> anyhow::Result<TestServer> {
        let plugins_dir = tempfile::tempdir()?;
        let plugins_path = plugins_dir.path().to_string_lossy().into_owned();
        let mut vars: Vec<(&str, &str)> = vec![("PLUGINS_DIR", plugins_path.as_str())];
        vars.extend_from_slice(overrides);
        let config = test_config(&vars)?;
        let app = App::with_store(Arc::new(config), store).await?;
        let state = app.state.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(app.serve(listener));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        // Handed over ready, as a load balancer routes to an instance only once `/health/ready` is 200:
        // the initial tool set (directory and database) loads in the background after start-up.
        tokio::time::timeout(Duration::from_secs(30), state.tools.wait_ready())
            .await
            .map_err(|_| anyhow::anyhow!("the tool set did not load within 30 s"))?;
        Ok(TestServer {
            base_url: format!("http://{addr}"),
            addr,
            state,
            client,
            task: Some(task),
            _db: keep,
            _plugins_dir: plugins_dir,
        })
    }

    /// Waits until every chat turn started so far has ended (a turn outlives its stream, and is
    /// persisted at its end), or panics after `within`.
    pub async fn turns_finished(&self, within: Duration) {
        let turns = &self.state.turns;
        turns.close();
        let finished = tokio::time::timeout(within, turns.wait()).await;
        turns.reopen();
        finished.unwrap_or_else(|_| panic!("{} turns still running after {within:?}", turns.len()));
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// A GET as `user` through the test-auth bypass.
    pub fn get_as(&self, user: &str, path: &str) -> reqwest::RequestBuilder {
        as_test_user(self.client.get(self.url(path)), user)
    }

    /// A DELETE as `user` through the test-auth bypass.
    pub fn delete_as(&self, user: &str, path: &str) -> reqwest::RequestBuilder {
        as_test_user(self.client.delete(self.url(path)), user)
    }

    /// Begins graceful shutdown with `grace` and waits for the serve loop to return.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<()> {
        self.state.shutdown.begin(grace);
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Adds the test-auth bypass headers for `user` (at least 5 characters, as the original required).
pub fn as_test_user(request: reqwest::RequestBuilder, user: &str) -> reqwest::RequestBuilder {
    request.header("X-Test-Auth", TEST_AUTH_SECRET).header("X-Test-User-Id", user)
}

/// Status and JSON body of a response (`Null` for an empty body); panics when a body is not JSON,
/// since every answer of the service, errors included, is JSON.
pub async fn read_json(response: reqwest::Response) -> (reqwest::StatusCode, serde_json::Value) {
    let status = response.status();
    let text = response.text().await.expect("response body");
    if text.is_empty() {
        return (status, serde_json::Value::Null);
    }
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("body of a {status} is not JSON: {text}"));
    (status, value)
}

/// Generates one test per backend from each `async fn scenario(backend: Backend)` named: modules
/// `sqlite` and `postgres`, each test on a two-worker runtime.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(store::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(store::Backend::Postgres).await } )*
        }
    };
}
