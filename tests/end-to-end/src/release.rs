//! The release `chat-api` binary the benchmarks spawn (`cargo build --release -p host --bin chat-api` puts it
//! in the target directory the benchmark executables run from).

use std::path::PathBuf;

/// `target/release/chat-api`, found from the running benchmark (`target/release/deps/<bench>`).
pub fn chat_api_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(|d| d.parent()).ok_or_else(|| anyhow::anyhow!("no target dir"))?;
    let binary = dir.join("chat-api");
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: run `cargo build --release -p host --bin chat-api` first",
        binary.display()
    );
    Ok(binary)
}
