//! A client socket as the server sees it: every read is reported to the connection's
//! [`Activity`], and a write that cannot proceed for the slow-client timeout fails, which ends the
//! connection.
//!
//! A client that stops reading (without closing) fills its socket's buffers; hyper then waits to
//! write and stops polling the response body, so nothing above the socket notices. Failing the
//! write here closes such a connection like a disconnect: its response body is dropped, and a chat
//! turn writing to it goes on without it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::activity::Activity;

pub struct WatchedIo<S> {
    inner: S,
    activity: Arc<Activity>,
    /// How long a write may stay blocked.
    patience: Duration,
    /// Running while a write is blocked; created on the first block.
    stalled: Option<Pin<Box<Sleep>>>,
    blocked: bool,
}

impl<S> WatchedIo<S> {
    pub fn new(inner: S, activity: Arc<Activity>, patience: Duration) -> WatchedIo<S> {
        WatchedIo { inner, activity, patience, stalled: None, blocked: false }
    }

    /// A write returned `Pending`: starts the stall clock if it is not running, and fails once it
    /// has run for the whole patience.
    fn poll_blocked(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let deadline = Instant::now() + self.patience;
        let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.blocked {
            self.blocked = true;
            timer.as_mut().reset(deadline);
        }
        ready!(timer.as_mut().poll(cx));
        metrics::counter!("http_connections_closed_total", "reason" => "slow_client").increment(1);
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")))
    }

    fn wrote(&mut self, result: Poll<io::Result<usize>>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        match result {
            Poll::Pending => self.poll_blocked(cx),
            done => {
                self.blocked = false;
                done
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WatchedIo<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_read();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WatchedIo<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(result, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_write_blocked_for_the_whole_patience_fails() {
        // A pipe whose reader never reads: the writer blocks once its buffer is full.
        let (client, server) = tokio::io::duplex(1024);
        let mut io = WatchedIo::new(server, Activity::new(), Duration::from_millis(200));
        let started = std::time::Instant::now();
        let err = loop {
            if let Err(err) = io.write_all(&[b'x'; 4096]).await {
                break err;
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(200));
        drop(client);
    }

    #[tokio::test]
    async fn a_slow_but_steady_reader_is_never_dropped() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut io = WatchedIo::new(server, Activity::new(), Duration::from_secs(2));
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 16];
            let mut total = 0;
            while total < 4096 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                total += client.read(&mut buf).await.unwrap();
            }
        });
        // Each write waits on the reader for a while, but never for the whole patience at once.
        io.write_all(&[b'x'; 4096]).await.expect("a reader that keeps reading keeps the connection");
        reader.await.unwrap();
    }
}
