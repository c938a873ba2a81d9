//! `make run`: the service with its offline development stack (see the `dev_stack` library), on
//! `BIND_ADDRESS:PORT` (loopback by default: the stack's secrets are published development values,
//! so it is not offered to the network unless asked).

use dev_stack::DevStack;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let config = host::config::Config::from_lookup(&env).map_err(|e| anyhow::anyhow!("{e}"))?;
    host::telemetry::init_logging(&config);
    let stack = DevStack::start(&env, config.server.listen).await?;
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
