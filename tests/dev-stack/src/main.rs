//! `make run`: the service with its offline development stack (see the `dev_stack` library).

use std::net::{Ipv4Addr, SocketAddr};

use dev_stack::DevStack;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let config = host::config::Config::from_lookup(&env).map_err(|e| anyhow::anyhow!("{e}"))?;
    host::telemetry::init_logging(&config);
    let port = env("PORT").and_then(|p| p.parse().ok()).unwrap_or(8005);
    let stack = DevStack::start(&env, SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))).await?;
    for stand_in in &stack.stand_ins {
        tracing::warn!(stand_in = %stand_in, "running a STAND-IN, not the real service");
    }
    println!("{}", stack.banner());
    let shutdown = stack.state().shutdown.clone();
    let grace = stack.state().config.server.shutdown_grace;
    tokio::spawn(async move {
        host::shutdown::signal().await;
        shutdown.begin(grace);
    });
    stack.wait().await
}
