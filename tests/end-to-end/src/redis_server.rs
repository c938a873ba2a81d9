//! Redis for the suites: the shared server on `127.0.0.1:6379` (`make redis` starts it) with a key
//! prefix of each test's own, so that tests run in parallel without seeing each other's keys; and a
//! private `redis-server` on a free port for a test that stops and restarts Redis.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::poll::poll_until;

/// The shared Redis every machine of the project runs.
pub const SHARED_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A key prefix no other test uses.
pub fn unique_prefix(test: &str) -> String {
    format!("test:{test}:{}:", uuid::Uuid::new_v4().simple())
}

/// A `redis-server` of one test, on a port of its own, without persistence.
pub struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts it on a free port and waits until it answers.
    pub async fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut redis = PrivateRedis { port, child: None };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (as a crash would: no shutdown, no save).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port (empty: it keeps nothing) and waits until it answers.
    pub async fn restart(&mut self) {
        self.stop().await;
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (`make redis` installs it)");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        poll_until(Duration::from_secs(30), "the private redis-server to accept connections", async || {
            tokio::net::TcpStream::connect(&addr).await.map(|_| ()).map_err(|e| e.to_string())
        })
        .await;
    }
}
