//! The command line: `chat-api [serve]` runs the service; `chat-api plugins …` are the plugin
//! author's tools (validate a plugin, run one call with the real limits, make a signing key, sign a
//! plugin) that need no chat.

mod admin_client;
mod author_loop;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "chat-api",
    version,
    about = "AmakaFlow Chat API: SSE chat with Claude; tools are WebAssembly plugins"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service on 0.0.0.0:$PORT (the default command).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Plugin author tools.
    #[command(subcommand)]
    Plugins(PluginsCommand),
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Validate a plugin as the registry would, and print its functions and their schemas.
    Check {
        /// The `.wasm` file (its `plugin.toml` is read from the same directory), or a plugin directory.
        file: PathBuf,
        /// The manifest, when it is not `plugin.toml` beside the wasm file.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// Run one call with the plugin's real limits and egress policy, and print the result.
    Call {
        /// The `.wasm` file (its `plugin.toml` is read from the same directory), or a plugin directory.
        file: PathBuf,
        function: String,
        /// The arguments, a JSON object.
        arguments: String,
        /// The user the call is made for.
        #[arg(long, default_value = "local-author")]
        user: String,
        /// The caller's `Authorization` header, forwarded where the manifest says `forward_user_auth`.
        #[arg(long)]
        authorization: Option<String>,
        /// The manifest, when it is not `plugin.toml` beside the wasm file.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// Run the test cases of `plugin.tests.toml` beside the manifest, offline: every request the
    /// plugin sends passes the real egress policy and is answered from the cases' scripts.
    Test {
        /// The plugin directory (its `plugin.toml` and `plugin.tests.toml`; a Rust crate's component
        /// is found in its target directory, any other's is `plugin.wasm`).
        dir: PathBuf,
        /// The component, when it is not where the directory says.
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// Write the functions' current descriptions and schemas to the tests file's `schemas` file.
        #[arg(long)]
        write_schemas: bool,
    },
    /// Build, check and upload the plugin to a local running service, then show its calls; again on
    /// every change of its sources (cargo for a Rust crate, `build.sh` for any other language).
    Dev {
        dir: PathBuf,
        /// The service's base URL.
        #[arg(long, default_value = "http://localhost:8005")]
        url: String,
        /// The minisign secret key to sign each build with (default: `PLUGIN_SIGNING_KEY_FILE`).
        #[arg(long)]
        signing_key: Option<PathBuf>,
        /// How often the service's statistics of the plugin are read, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
    },
    /// Build the plugin, sign it if a signing key is configured, upload it through the admin API
    /// (`ADMIN_API_KEY`) and report whether the version is active.
    Push {
        dir: PathBuf,
        /// The service's base URL.
        #[arg(long)]
        url: String,
        /// The minisign secret key (default: `PLUGIN_SIGNING_KEY_FILE`; neither: the upload is unsigned,
        /// or carries the directory's `plugin.sig`).
        #[arg(long)]
        signing_key: Option<PathBuf>,
    },
    /// Create a plugin directory NAME (source, `plugin.toml`, test cases, build instructions) that
    /// builds and passes `plugins check` as created.
    New {
        /// The plugin's name (`[a-z][a-z0-9_-]*`); its function is the name in snake case.
        name: String,
        /// The language: rust, python or js.
        #[arg(long, default_value = "rust")]
        lang: tools::scaffold::Lang,
        /// Where to create the directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The Rust SDK (`plugins/sdk` of amakaflow-chat), when not where this binary was built.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Write a new minisign key pair: `plugin-signing.pub` (for `PLUGIN_TRUSTED_KEYS`) and
    /// `plugin-signing.key` (unencrypted: keep it in a secret store, never in git).
    Keygen {
        /// The directory to write the two files to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Sign a plugin directory (its `plugin.toml` and `plugin.wasm`, as they are): writes `plugin.sig`.
    /// Given a directory of plugin directories, signs each of them.
    Sign {
        dir: PathBuf,
        /// The minisign secret key file (default: `PLUGIN_SIGNING_KEY_FILE`).
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

/// The files `plugins keygen` writes.
pub const PUBLIC_KEY_FILE: &str = "plugin-signing.pub";
pub const SECRET_KEY_FILE: &str = "plugin-signing.key";

impl Cli {
    /// Whether the command runs the service (the commands that report to Sentry).
    pub fn serves(&self) -> bool {
        matches!(self.command, None | Some(Command::Serve))
    }
}

/// Runs the command with the configuration `main` read from the environment.
pub async fn run(cli: Cli, config: Config) -> ExitCode {
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::Plugins(cmd) => plugins(config, cmd).await,
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("chat-api: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    crate::telemetry::init_logging(&config);
    let listen = config.server.listen;
    let grace = config.server.shutdown_grace;
    tracing::info!(environment = config.environment.as_str(), %listen, "starting chat-api");
    let app = App::build(config).await?;
    let listener = App::bind(listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let shutdown = app.state.shutdown.clone();
    tokio::spawn(async move {
        crate::shutdown::signal().await;
        tracing::info!(grace_seconds = grace.as_secs_f64(), "shutdown signal received; draining");
        shutdown.begin(grace);
    });
    let served = app.serve(listener).await;
    crate::telemetry::otel::shutdown().await;
    served?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn migrate(config: Config) -> anyhow::Result<ExitCode> {
    let options = store::StoreOptions {
        run_migrations: true,
        max_connections: 1,
        schema: None,
        url: config.database.url.clone(),
    };
    store::Store::connect(&options).await?;
    println!("migrations applied");
    Ok(ExitCode::SUCCESS)
}

/// The author commands. They use the service's configuration (the defaults of the values manifests
/// interpolate; not the operators' stored settings and secrets, `FUNCTION_TIMEOUT_SECONDS`, `DATABASE_URL` for the state a call keeps) but never
/// the service's plugin directory: compiled artifacts go to a cache in the temp directory.
async fn plugins(config: Config, cmd: PluginsCommand) -> anyhow::Result<ExitCode> {
    let mut runtime = crate::app::runtime_config(&config);
    runtime.watch = false;
    runtime.max_concurrent_calls = 4;
    runtime.cache_dir = std::env::temp_dir().join("amakaflow-plugin-cache");
    match cmd {
        PluginsCommand::Keygen { out } => keygen(&out),
        PluginsCommand::New { name, lang, dir, sdk } => new_plugin(&dir, &name, lang, sdk.as_deref()),
        PluginsCommand::Sign { dir, key } => {
            let Some(key) = key.or_else(|| config.plugins.signing_key_file.clone()) else {
                eprintln!("no signing key: pass --key FILE or set PLUGIN_SIGNING_KEY_FILE");
                return Ok(ExitCode::from(2));
            };
            sign(&dir, &key)
        }
        PluginsCommand::Push { dir, url, signing_key } => match upload_target(&config, url, signing_key) {
            Ok(target) => author_loop::push(&dir, target).await,
            Err(code) => Ok(code),
        },
        PluginsCommand::Dev { dir, url, signing_key, poll_ms } => match upload_target(&config, url, signing_key) {
            Ok(target) => {
                author_loop::dev(&dir, target, runtime, std::time::Duration::from_millis(poll_ms.max(50))).await
            }
            Err(code) => Ok(code),
        },
        PluginsCommand::Test { dir, wasm, write_schemas } => {
            author_loop::test(&dir, wasm, runtime, write_schemas).await
        }
        PluginsCommand::Check { file, manifest } => {
            match tools::author::check(&file, manifest.as_deref(), runtime).await {
                Ok(check) => {
                    println!("{}", serde_json::to_string_pretty(&check)?);
                    eprintln!(
                        "plugin {} {} passes every check ({} functions); signature: {}",
                        check.name,
                        check.version,
                        check.functions.len(),
                        describe_signature(&check.signature)
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    eprintln!("plugin rejected at the {} step: {}", err.stage.as_str(), err.message);
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        PluginsCommand::Call { file, function, arguments, user, authorization, manifest } => {
            let arguments: serde_json::Value = match serde_json::from_str(&arguments) {
                Ok(value) => value,
                Err(err) => {
                    eprintln!("the arguments are not JSON: {err}");
                    return Ok(ExitCode::from(2));
                }
            };
            let store = store::Store::connect(&store::StoreOptions {
                url: config.database.url.clone(),
                max_connections: 2,
                run_migrations: config.database.run_migrations,
                schema: None,
            })
            .await?;
            let call = tools::ToolCall {
                function,
                arguments,
                caller: tools::Caller {
                    user_id: user,
                    session_id: None,
                    request_id: uuid::Uuid::new_v4().to_string(),
                    authorization,
                    via: tools::Via::Chat,
                },
            };
            let services = tools::HostServices::new(store);
            let result = tools::author::call(&file, manifest.as_deref(), runtime, services, call).await;
            match result {
                Ok(done) => {
                    println!("{}", done.outcome.result_text());
                    let fuel = done.outcome.fuel_consumed.map(|f| format!(", {f} fuel")).unwrap_or_default();
                    eprintln!(
                        "{} in {:.1} ms{fuel}",
                        done.outcome.outcome_label(),
                        done.outcome.elapsed.as_secs_f64() * 1000.0
                    );
                    if let Some(detail) = done.detail {
                        eprintln!("host detail: {detail}");
                    }
                    Ok(if done.outcome.is_error() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
                }
                Err(err) => {
                    eprintln!("plugin rejected at the {} step: {}", err.stage.as_str(), err.message);
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// The service `push` and `dev` upload to: `ADMIN_API_KEY` from the environment (its development
/// default locally) and the signing key, if one is configured.
fn upload_target(config: &Config, url: String, signing_key: Option<PathBuf>) -> Result<author_loop::Target, ExitCode> {
    let Some(admin_key) = config.auth.admin_api_key.as_ref().map(|key| key.expose().to_string()) else {
        eprintln!("no admin key: set ADMIN_API_KEY to the service's");
        return Err(ExitCode::from(2));
    };
    let signing_key = match signing_key.or_else(|| config.plugins.signing_key_file.clone()) {
        None => None,
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(err) => {
                eprintln!("reading the signing key {}: {err}", path.display());
                return Err(ExitCode::from(2));
            }
        },
    };
    Ok(author_loop::Target { url, admin_key, signing_key })
}

/// Creates a plugin directory and says how to build it.
fn new_plugin(
    parent: &std::path::Path,
    name: &str,
    lang: tools::scaffold::Lang,
    sdk: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    match tools::scaffold::new_plugin(parent, name, lang, sdk) {
        Ok(created) => {
            let dir = created.dir.display();
            println!("created {dir} ({} files), function `{}`", created.files.len(), created.function);
            println!("next: {dir}/build.sh && chat-api plugins check {dir}");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("{err}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Writes a new key pair to `out`, refusing to overwrite a key.
fn keygen(out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let (public, secret, key_id) = tools::signing::generate_key_pair().map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(out)?;
    let (public_path, secret_path) = (out.join(PUBLIC_KEY_FILE), out.join(SECRET_KEY_FILE));
    if secret_path.exists() || public_path.exists() {
        eprintln!("{} or {} already exists: not overwritten", secret_path.display(), public_path.display());
        return Ok(ExitCode::FAILURE);
    }
    write_private(&secret_path, &secret)?;
    std::fs::write(&public_path, &public)?;
    let base64 = public.lines().nth(1).unwrap_or_default();
    println!("{base64}");
    eprintln!(
        "key {key_id}: public key {} (trust it with PLUGIN_TRUSTED_KEYS={base64}), secret key {} (unencrypted: keep it secret)",
        public_path.display(),
        secret_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates `path` readable by its owner only.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// Signs `dir`, or each plugin directory in it.
fn sign(dir: &std::path::Path, key: &std::path::Path) -> anyhow::Result<ExitCode> {
    let secret = std::fs::read_to_string(key).map_err(|err| anyhow::anyhow!("reading {}: {err}", key.display()))?;
    let dirs: Vec<PathBuf> = if dir.join(tools::MANIFEST_FILE).is_file() {
        vec![dir.to_path_buf()]
    } else {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join(tools::MANIFEST_FILE).is_file())
            .collect();
        dirs.sort();
        dirs
    };
    if dirs.is_empty() {
        eprintln!("{} holds no plugin (no plugin.toml)", dir.display());
        return Ok(ExitCode::FAILURE);
    }
    for dir in dirs {
        match tools::author::sign(&dir, &secret) {
            Ok(signed) => eprintln!("{}: {}", signed.signature_file.display(), signed.trusted_comment),
            Err(err) => {
                eprintln!("{}: cannot sign at the {} step: {}", dir.display(), err.stage.as_str(), err.message);
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The signer of a checked plugin, in words.
fn describe_signature(status: &tools::SignatureStatus) -> String {
    match status {
        tools::SignatureStatus::Verified { key_id, trusted_comment } => {
            format!("signed by trusted key {key_id} ({trusted_comment})")
        }
        tools::SignatureStatus::Unsigned => "unsigned".to_string(),
        tools::SignatureStatus::Untrusted { reason, .. } => format!("untrusted: {reason}"),
        tools::SignatureStatus::NotChecked => "not checked (PLUGIN_SIGNATURES=off)".to_string(),
    }
}
