//! A slow-loris client: a connection whose request head never ends, trickled one header line at a
//! time. The http_server suite checks the service cuts it within the header timeout; the SSE
//! benchmark measures how long that takes with the production default.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::task::JoinHandle;

/// An open slow-loris connection; dropping it stops the trickle.
pub struct SlowLoris {
    read: OwnedReadHalf,
    trickle: JoinHandle<std::io::Result<()>>,
}

impl SlowLoris {
    /// Connects and starts a `POST /chat/stream` head that gains a header line `every` so often.
    pub async fn start(addr: SocketAddr, every: Duration) -> std::io::Result<SlowLoris> {
        let (read, mut write) = TcpStream::connect(addr).await?.into_split();
        let trickle = tokio::spawn(async move {
            write.write_all(b"POST /chat/stream HTTP/1.1\r\nHost: chat-api\r\n").await?;
            for line in 0.. {
                tokio::time::sleep(every).await;
                write.write_all(format!("X-Trickle-{line}: still coming\r\n").as_bytes()).await?;
            }
            Ok(())
        });
        Ok(SlowLoris { read, trickle })
    }

    /// Reads until the service closes the connection (cleanly or with a reset): what it sent
    /// before, or `None` if the connection is still open after `limit`.
    pub async fn closed_within(mut self, limit: Duration) -> Option<Vec<u8>> {
        let mut received = Vec::new();
        let mut buf = [0u8; 1024];
        let reading = async {
            loop {
                match self.read.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(limit, reading).await.ok()?;
        Some(received)
    }
}

impl Drop for SlowLoris {
    fn drop(&mut self) {
        self.trickle.abort();
    }
}
