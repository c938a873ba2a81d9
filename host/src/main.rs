//! `chat-api`: the service (`serve`, the default) and the plugin author commands (`plugins …`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = chat_api::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("chat-api: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(chat_api::cli::run(cli))
}
