//! The command line: `chat-api [serve]` runs the service; `chat-api plugins …` are the plugin
//! author's tools (validate a plugin, run one call with the real limits) that need no chat.

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
}

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
    app.serve(listener).await?;
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
        PluginsCommand::Check { file, manifest } => {
            match tools::author::check(&file, manifest.as_deref(), runtime).await {
                Ok(check) => {
                    println!("{}", serde_json::to_string_pretty(&check)?);
                    eprintln!(
                        "plugin {} {} passes every check ({} functions)",
                        check.name,
                        check.version,
                        check.functions.len()
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
