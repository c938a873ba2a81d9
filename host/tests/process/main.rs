//! The real `chat-api` binary as an operator runs it: start-up with no configuration (SQLite under
//! `data/`), against Postgres, refusal of a bad production configuration, and SIGTERM.
//!
//! These live beside the binary (not in `end-to-end`) because only here does cargo guarantee the
//! binary is built and say where it is (`CARGO_BIN_EXE_chat-api`).

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use end_to_end::poll::poll_until;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

mod crash_recovery;

const BINARY: &str = env!("CARGO_BIN_EXE_chat-api");
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `chat-api serve` and everything it logged.
struct Service {
    child: Child,
    base_url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Service {
    /// Starts `chat-api serve` in `dir` with exactly `vars` as its environment (plus `PORT=0`) and
    /// waits until it logs the address it listens on.
    async fn start(dir: &Path, vars: &[(&str, &str)]) -> Service {
        let mut command = Command::new(BINARY);
        command.arg("serve").current_dir(dir).env_clear().env("PORT", "0").env("LOG_JSON", "true");
        for (k, v) in vars {
            command.env(k, v);
        }
        let mut child =
            command.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true).spawn().expect("spawn chat-api");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = tokio::sync::oneshot::channel::<u16>();
        let mut port_tx = Some(port_tx);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let stdout_log = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = listening_port(&line)
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
                stdout_log.lock().unwrap().push(line);
            }
        });
        let mut errors = BufReader::new(child.stderr.take().unwrap()).lines();
        let stderr_log = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = errors.next_line().await {
                stderr_log.lock().unwrap().push(line);
            }
        });
        let port = match tokio::time::timeout(PATIENCE, port_rx).await {
            Ok(Ok(port)) => port,
            _ => panic!("chat-api did not start listening; log:\n{}", log.lock().unwrap().join("\n")),
        };
        Service { child, base_url: format!("http://127.0.0.1:{port}"), log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Sends SIGTERM and waits for the exit status.
    async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success());
        tokio::time::timeout(PATIENCE, self.child.wait()).await.expect("chat-api exits after SIGTERM").expect("wait")
    }
}

/// The port of the `listening` log line (JSON logs: `"message":"listening","addr":"127.0.0.1:PORT"`).
fn listening_port(line: &str) -> Option<u16> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    if event["message"] != "listening" {
        return None;
    }
    event["addr"].as_str()?.rsplit_once(':')?.1.parse().ok()
}

/// `/health/ready` once it says 200: until the initial tool set has loaded (in the background,
/// after the listener opened) it is a 503 saying `loading`. Another process's endpoint signals
/// nothing, so it is polled.
async fn ready(service: &Service) -> serde_json::Value {
    poll_until(PATIENCE, "readiness", async || {
        let (status, body) = get(&service.url("/health/ready")).await;
        if status == 200 {
            return Ok(body);
        }
        assert_eq!((status, &body["checks"]["tools"]), (503, &serde_json::json!("loading")), "{body}");
        Err(format!("{status} {body}\n{}", service.log_text()))
    })
    .await
}

async fn get(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new().get(url).timeout(Duration::from_secs(10)).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn with_no_configuration_it_serves_health_from_a_local_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(dir.path(), &[]).await;
    assert!(service.log_text().contains(r#""addr":"127.0.0.1:"#), "development listens on loopback only");
    assert_eq!(get(&service.url("/health")).await, (200, serde_json::json!({"status": "ok", "service": "chat-api"})));
    let ready = ready(&service).await;
    assert_eq!(ready["checks"]["supabase"], "ok");
    assert!(dir.path().join("data/chat.db").exists(), "the SQLite file is created under data/");
    assert!(service.terminate().await.success());
}

#[tokio::test]
async fn with_a_postgres_url_it_migrates_and_serves_the_same_way() {
    use sqlx::Connection;
    let url = store::testing::postgres_url();
    let schema = format!("proc_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.unwrap();
    let database_url = format!("{url}?options[search_path]={schema}");

    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(dir.path(), &[("DATABASE_URL", &database_url)]).await;
    let ready = ready(&service).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(service.terminate().await.success());

    let tables: Vec<String> =
        sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1")
            .bind(&schema)
            .fetch_all(&mut admin)
            .await
            .unwrap();
    for table in
        ["chat_messages", "chat_rate_limits", "chat_sessions", "feature_flags", "function_rate_limits", "tool_state"]
    {
        assert!(tables.iter().any(|t| t == table), "{table} missing from {tables:?}");
    }
    assert!(!dir.path().join("data").exists(), "no SQLite file when Postgres is configured");
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin).await.unwrap();
}

#[tokio::test]
async fn production_refuses_a_bad_configuration_naming_every_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::time::timeout(
        PATIENCE,
        Command::new(BINARY)
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .env("ENVIRONMENT", "production")
            .env("DATABASE_URL", "sqlite://data/chat.db")
            .env("JWT_SECRET", "short-secret-value")
            .env("ALLOWED_ORIGINS", "*")
            .env("PORT", "0")
            .output(),
    )
    .await
    .expect("chat-api exits")
    .expect("run chat-api");
    assert_eq!(output.status.code(), Some(2), "a configuration error exits with 2");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in host::config::PRODUCTION_REQUIRED {
        assert!(stderr.contains(name), "{name} is not named in:\n{stderr}");
    }
    assert!(!stderr.contains("short-secret-value"), "secrets are never echoed:\n{stderr}");
    assert!(!dir.path().join("data").exists(), "nothing was started or created");
    assert!(output.stdout.is_empty() || !String::from_utf8_lossy(&output.stdout).contains("listening"));
}

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(dir.path(), &[("SHUTDOWN_GRACE_SECONDS", "1")]).await;
    // A client with an open keep-alive connection does not hold the process up.
    let client = reqwest::Client::new();
    assert_eq!(client.get(service.url("/health")).send().await.unwrap().status(), 200);

    let status = service.terminate().await;
    assert!(status.success(), "exit status {status:?}\n{}", service.log_text());
    let log = service.log_text();
    let received = log.find("shutdown signal received").unwrap_or_else(|| panic!("no drain logged:\n{log}"));
    let stopped = log.find("\"stopped\"").unwrap_or_else(|| panic!("no stop logged:\n{log}"));
    assert!(received < stopped);
    assert!(client.get(service.url("/health")).send().await.is_err(), "the port is closed");
}

#[tokio::test]
async fn sigterm_flushes_the_batched_spans() {
    let receiver = stand_ins::recording_server::RecordingServer::start(|_| async {
        stand_ins::recording_server::reply::bytes(200, "application/x-protobuf", Vec::new())
    })
    .await;
    let endpoint = receiver.url();
    let dir = tempfile::tempdir().unwrap();
    // The batch is due in an hour: what reaches the collector is what shutdown flushed.
    let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "3600000")];
    let mut service = Service::start(dir.path(), &vars).await;
    assert_eq!(get(&service.url("/health")).await.0, 200);

    let status = service.terminate().await;
    assert!(status.success(), "exit status {status:?}\n{}", service.log_text());
    let exports = receiver.requests();
    assert!(!exports.is_empty(), "no spans flushed at shutdown\n{}", service.log_text());
    assert!(exports.iter().all(|r| r.method == "POST" && r.path == "/v1/traces"), "{exports:#?}");
    assert!(exports.iter().all(|r| r.header("content-type") == Some("application/x-protobuf")));
    let flushed = exports.iter().any(|r| r.body.windows(b"request".len()).any(|w| w == b"request"));
    assert!(flushed, "the request span is among the flushed ones");
}

/// `target/<dir>/<plugin>` of this repository, laid out by `make plugins`.
fn built_plugin(dir: &str, plugin: &str) -> std::path::PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target").join(dir).join(plugin);
    assert!(path.join("plugin.wasm").is_file(), "{} is missing: run `make plugins` first", path.display());
    path
}

/// Runs `chat-api plugins …` in a fresh directory with only `vars` set; returns the exit code,
/// stdout and stderr.
async fn author_cli(args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BINARY);
    command.arg("plugins").args(args).current_dir(dir.path()).env_clear();
    for (k, v) in vars {
        command.env(k, v);
    }
    let output = tokio::time::timeout(PATIENCE, command.output()).await.expect("the CLI finishes").expect("run");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

#[tokio::test]
async fn plugins_check_prints_the_functions_or_the_step_that_rejected_the_plugin() {
    let echo = built_plugin("test-plugins.d", "echo");
    let (code, stdout, stderr) =
        author_cli(&["check", echo.to_str().unwrap()], &[("ECHO_BASE_URL", "http://127.0.0.1:9")]).await;
    assert_eq!(code, 0, "stderr: {stderr}");
    let check: serde_json::Value = serde_json::from_str(&stdout).expect("check prints JSON");
    assert_eq!(check["name"], "echo");
    let names: Vec<&str> = check["functions"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"echo") && names.contains(&"echo_http"), "{names:?}");
    assert!(stderr.contains("passes every check"), "{stderr}");

    for plugin in ["wrong-world", "bad-schema"] {
        let (code, stdout, stderr) =
            author_cli(&["check", built_plugin("test-plugins.d", plugin).to_str().unwrap()], &[]).await;
        assert_eq!(code, 1, "{plugin}: {stdout} {stderr}");
        assert!(stderr.contains("plugin rejected at the"), "{plugin}: {stderr}");
    }

    let corrupt = tempfile::tempdir().unwrap();
    std::fs::copy(echo.join("plugin.toml"), corrupt.path().join("plugin.toml")).unwrap();
    std::fs::write(corrupt.path().join("plugin.wasm"), b"\0asm not really").unwrap();
    let (code, _, stderr) = author_cli(&["check", corrupt.path().to_str().unwrap()], &[]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("plugin rejected at the"), "{stderr}");
}

#[tokio::test]
async fn plugins_call_runs_one_call_with_the_real_limits() {
    let echo = built_plugin("test-plugins.d", "echo");
    let vars = [("ECHO_BASE_URL", "http://127.0.0.1:9")];
    let (code, stdout, stderr) =
        author_cli(&["call", echo.to_str().unwrap(), "echo", r#"{"text":"hi"}"#, "--user", "author-1"], &vars).await;
    assert_eq!(code, 0, "stderr: {stderr}");
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).expect("the result is the tool's JSON");
    assert_eq!(result["echo"], "hi");
    assert_eq!(result["user_id"], "author-1");

    // Arguments the schema refuses never reach the guest; arguments that are not JSON are a usage error.
    let (code, stdout, _) = author_cli(&["call", echo.to_str().unwrap(), "echo", r#"{"text":5}"#], &vars).await;
    assert_eq!(code, 1);
    assert!(stdout.contains("invalid_arguments"), "{stdout}");
    let (code, _, stderr) = author_cli(&["call", echo.to_str().unwrap(), "echo", "{not json"], &vars).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("not JSON"), "{stderr}");

    // The plugin's own one-second limit stops a guest that never returns.
    let spin = built_plugin("test-plugins.d", "spin-loop");
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = author_cli(&["call", spin.to_str().unwrap(), "spin", "{}"], &[]).await;
    assert_eq!(code, 1, "{stdout} {stderr}");
    assert!(stdout.contains("\"timeout\""), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn plugins_keygen_sign_and_check_round_trip() {
    let keys = tempfile::tempdir().unwrap();
    let out = keys.path().to_str().unwrap();
    let (code, stdout, stderr) = author_cli(&["keygen", "--out", out], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let public_file = std::fs::read_to_string(keys.path().join(host::cli::PUBLIC_KEY_FILE)).unwrap();
    let public = stdout.trim();
    assert_eq!(public_file.lines().nth(1), Some(public), "keygen prints the base64 public key");
    let key_id = stderr.split_whitespace().nth(1).unwrap().trim_end_matches(':').to_string();
    assert_eq!(key_id.len(), 16, "{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let secret = keys.path().join(host::cli::SECRET_KEY_FILE);
        assert_eq!(std::fs::metadata(secret).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (code, _, stderr) = author_cli(&["keygen", "--out", out], &[]).await;
    assert_eq!(code, 1, "an existing key is never overwritten: {stderr}");

    // Sign a copy of echo, with the key from PLUGIN_SIGNING_KEY_FILE.
    let plugin = tempfile::tempdir().unwrap();
    let echo = built_plugin("test-plugins.d", "echo");
    for file in ["plugin.toml", "plugin.wasm"] {
        std::fs::copy(echo.join(file), plugin.path().join(file)).unwrap();
    }
    let dir = plugin.path().to_str().unwrap();
    let (code, _, stderr) = author_cli(&["sign", dir], &[]).await;
    assert_eq!(code, 2, "no key: a usage error: {stderr}");
    let key_file = keys.path().join(host::cli::SECRET_KEY_FILE);
    let (code, _, stderr) =
        author_cli(&["sign", dir], &[("PLUGIN_SIGNING_KEY_FILE", key_file.to_str().unwrap())]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(plugin.path().join("plugin.sig").is_file());

    // `check` shows the signer when the key is trusted, and refuses the plugin under enforce otherwise.
    let vars = [("ECHO_BASE_URL", "http://127.0.0.1:9"), ("PLUGIN_TRUSTED_KEYS", public)];
    let (code, stdout, stderr) = author_cli(&["check", dir], &vars).await;
    assert_eq!(code, 0, "{stderr}");
    let check: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(check["signature"]["status"], "verified", "{check}");
    assert_eq!(check["signature"]["key_id"], key_id.as_str());
    assert!(check["signature"]["trusted_comment"].as_str().unwrap().starts_with("plugin echo "), "{check}");
    assert!(stderr.contains(&format!("signed by trusted key {key_id}")), "{stderr}");

    std::fs::write(
        plugin.path().join("plugin.toml"),
        std::fs::read_to_string(echo.join("plugin.toml")).unwrap() + "\n# edited\n",
    )
    .unwrap();
    let enforce = [vars[0], vars[1], ("PLUGIN_SIGNATURES", "enforce")];
    let (code, _, stderr) = author_cli(&["check", dir], &enforce).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("plugin rejected at the signature step"), "{stderr}");
    assert!(stderr.contains("does not match"), "{stderr}");
}
