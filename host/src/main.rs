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
    raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("chat-api: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(host::cli::run(cli, config))
}

/// Every SSE stream holds two sockets (the client's and Anthropic's): lift the soft limit on open
/// files to the hard limit, which is what the process is allowed anyway.
fn raise_open_file_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
