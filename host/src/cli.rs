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
        /// The `.wasm` file (its `plugin.toml` is read from the same directory).
        file: PathBuf,
    },
    /// Run one call with the plugin's real limits and egress policy, and print the result.
    Call {
        file: PathBuf,
        function: String,
        /// The arguments, a JSON object.
        arguments: String,
        /// The user the call is made for.
        #[arg(long, default_value = "local-author")]
        user: String,
    },
}

pub async fn run(cli: Cli) -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(err) => {
            eprintln!("chat-api: {err}");
            return ExitCode::from(2);
        }
    };
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
    let options = chat_store::StoreOptions {
        run_migrations: true,
        max_connections: 1,
        schema: None,
        url: config.database.url.clone(),
    };
    chat_store::Store::connect(&options).await?;
    println!("migrations applied");
    Ok(ExitCode::SUCCESS)
}

async fn plugins(_config: Config, _cmd: PluginsCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("plugin commands are not available yet")
}
