//! Requests written by hand over TCP, for what an HTTP client library will not send: a body whose
//! `Content-Length` lies, or a chunked body that never ends. The bad-input suite checks the service
//! answers them without reading past its limits.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the service answered, and how much of the body was written before it stopped reading.
#[derive(Debug)]
pub struct RawAnswer {
    /// The status code of the response head.
    pub status: u16,
    /// The response head and whatever body came with it (lossy UTF-8).
    pub text: String,
    /// Body bytes written until the service closed the connection (or the body ended).
    pub body_written: u64,
}

/// How the body is sent after the head.
pub enum RawBody {
    /// These bytes, then the write side stays open (`Content-Length` may claim more or less).
    Bytes(Vec<u8>),
    /// Chunks of `chunk` forever (`Transfer-Encoding: chunked`), until the service closes.
    Endless { chunk: Vec<u8> },
}

/// Sends `POST path` with `headers` (lines without the final blank line) and `body`, and reads the
/// answer until the service closes the connection or `within` passes (then panics).
pub async fn send(addr: SocketAddr, path: &str, headers: &[String], body: RawBody, within: Duration) -> RawAnswer {
    let (mut read, mut write) = TcpStream::connect(addr).await.expect("connect").into_split();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: chat-api\r\nConnection: close\r\n");
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    if let RawBody::Endless { .. } = body {
        head.push_str("Transfer-Encoding: chunked\r\n");
    }
    head.push_str("\r\n");
    write.write_all(head.as_bytes()).await.expect("the head is sent");
    let writer = tokio::spawn(async move {
        let mut written = 0u64;
        match body {
            RawBody::Bytes(bytes) => {
                if write.write_all(&bytes).await.is_ok() {
                    written += bytes.len() as u64;
                }
                // The write side stays open until the answer is read: the service must not wait
                // for more than the request has.
                (written, Some(write))
            }
            RawBody::Endless { chunk } => {
                let framed = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk.clone(), b"\r\n".to_vec()].concat();
                while write.write_all(&framed).await.is_ok() {
                    written += chunk.len() as u64;
                }
                (written, None)
            }
        }
    });
    let reading = async {
        let mut received = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
        received
    };
    let received = tokio::time::timeout(within, reading).await.expect("the service closes the connection in time");
    // The service closed the connection: an endless body's writer fails at its next write.
    let (body_written, _open) =
        tokio::time::timeout(within, writer).await.expect("the writer stops").expect("writer task");
    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    RawAnswer { status, text, body_written }
}
