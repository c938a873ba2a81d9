//! A server that takes a request and never finishes answering, and notices when the client gives
//! up on it (closes the connection): a tool's downstream service that never answers, or Claude in
//! the middle of a streamed reply ([`HangingServer::claude_mid_reply`]), for the tests and the
//! benchmark that check a stopped turn really abandons what it was waiting for.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Requests received and connections the client closed, counted.
pub struct HangingServer {
    addr: SocketAddr,
    received: watch::Receiver<usize>,
    abandoned: watch::Receiver<usize>,
    _accept: tokio::task::JoinHandle<()>,
}

/// The beginning of a streamed Messages API reply (Anthropic's wire format): the message opens,
/// a text block starts and says one thing; the rest never comes. Delimited by the connection's
/// close, so no chunked framing is needed.
const CLAUDE_MID_REPLY: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n\
event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_hanging\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Thinking about it\"}}\n\n";

impl HangingServer {
    /// Never answers at all.
    pub async fn start() -> HangingServer {
        HangingServer::answering(b"").await
    }

    /// Claude mid-reply: the first text of a streamed message, then nothing.
    pub async fn claude_mid_reply() -> HangingServer {
        HangingServer::answering(CLAUDE_MID_REPLY.as_bytes()).await
    }

    /// Writes `prefix` once a request has arrived, then nothing more.
    async fn answering(prefix: &'static [u8]) -> HangingServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (received_tx, received) = watch::channel(0usize);
        let (abandoned_tx, abandoned) = watch::channel(0usize);
        let (received_tx, abandoned_tx) = (Arc::new(received_tx), Arc::new(abandoned_tx));
        let accept = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (received_tx, abandoned_tx) = (received_tx.clone(), abandoned_tx.clone());
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    let mut counted = false;
                    loop {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                seen.extend_from_slice(&buf[..n]);
                                if !counted && seen.windows(4).any(|w| w == b"\r\n\r\n") {
                                    counted = true;
                                    received_tx.send_modify(|n| *n += 1);
                                    if !prefix.is_empty() && socket.write_all(prefix).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    if counted {
                        abandoned_tx.send_modify(|n| *n += 1);
                    }
                });
            }
        });
        HangingServer { addr, received, abandoned, _accept: accept }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until `n` requests have arrived.
    pub async fn received(&self, n: usize) {
        let mut received = self.received.clone();
        received.wait_for(|count| *count >= n).await.expect("the server runs");
    }

    /// Waits until the clients of `n` requests have closed their connections.
    pub async fn abandoned(&self, n: usize) {
        let mut abandoned = self.abandoned.clone();
        abandoned.wait_for(|count| *count >= n).await.expect("the server runs");
    }

    pub fn abandoned_count(&self) -> usize {
        *self.abandoned.borrow()
    }
}
