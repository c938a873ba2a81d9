//! `chat-api`: the service (`serve`, the default) and the plugin author commands (`plugins …`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = host::cli::Cli::parse();
    let config = match host::config::Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("chat-api: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    // Sentry starts before any other thread exists, so every runtime thread inherits its client;
    // the guard lives until `main` returns, then flushes what is queued.
    let _sentry = cli.serves().then(|| host::telemetry::sentry::init(&config)).flatten();
    host::server::raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("chat-api: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(host::cli::run(cli, config))
}
