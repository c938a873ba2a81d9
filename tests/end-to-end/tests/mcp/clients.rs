//! The real MCP clients, run as child processes: the Python SDK through `mcp-clients/client.py`
//! (one scenario per run, JSON lines on stdout) and the Inspector's CLI. Both are installed by
//! `make mcp-clients` under `MCP_CLIENTS_DIR`.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use super::PATIENCE;

/// Where `make mcp-clients` installs the clients.
pub fn clients_dir() -> PathBuf {
    match std::env::var_os("MCP_CLIENTS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/amakaflow-chat"),
    }
}

/// An installed client program, or a panic saying how to install it.
pub fn installed(relative: &str) -> PathBuf {
    let path = clients_dir().join(relative);
    assert!(path.exists(), "{} is missing: run `make mcp-clients` (it installs the MCP clients)", path.display());
    path
}

fn python_client(scenario: &str, url: &str, mode: &str, authorization: Option<&str>, args: &Value) -> Command {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mcp-clients/client.py");
    let mut command = Command::new(installed("mcp-venv/bin/python"));
    command.arg(script).args([scenario, url, mode, &args.to_string()]);
    match authorization {
        Some(authorization) => command.env("MCP_TEST_AUTHORIZATION", authorization),
        None => command.env_remove("MCP_TEST_AUTHORIZATION"),
    };
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    command
}

/// Runs a scenario to its end: its JSON lines, or a panic with its output when it failed.
pub async fn run(scenario: &str, url: &str, mode: &str, authorization: Option<&str>, args: Value) -> Vec<Value> {
    let output = tokio::time::timeout(PATIENCE, python_client(scenario, url, mode, authorization, &args).output())
        .await
        .unwrap_or_else(|_| panic!("the Python client ({scenario}, {mode}) did not finish"))
        .expect("the Python client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Python client ({scenario}, {mode}) failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
}

/// A scenario the test talks with: it reads the client's lines and answers on its stdin.
pub struct Conversation {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Conversation {
    pub fn start(scenario: &str, url: &str, mode: &str, authorization: &str, args: Value) -> Conversation {
        let mut child =
            python_client(scenario, url, mode, Some(authorization), &args).spawn().expect("the Python client runs");
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        Conversation { child, lines }
    }

    /// The client's next JSON line.
    pub async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(PATIENCE, self.lines.next_line()).await.expect("the client answers in time");
        match line.expect("reading the client") {
            Some(line) => serde_json::from_str(&line).expect("a JSON line"),
            None => {
                let mut stderr = String::new();
                if let Some(mut err) = self.child.stderr.take() {
                    let _ = tokio::io::AsyncReadExt::read_to_string(&mut err, &mut stderr).await;
                }
                panic!("the client ended early: {stderr}")
            }
        }
    }

    /// Tells the client to go on.
    pub async fn proceed(&mut self) {
        let stdin = self.child.stdin.as_mut().expect("piped");
        stdin.write_all(b"go\n").await.expect("writing to the client");
        stdin.flush().await.expect("flushing");
    }
}
