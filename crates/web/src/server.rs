//! The connection loop: hyper's HTTP/1 server over the router, with the timeouts
//! `axum::serve` does not set.
//!
//! - A request's head must arrive within [`Limits::read_timeout`]; hyper's timer for it
//!   also runs while a kept-alive connection waits for its next request, so an idle or
//!   half-open connection is closed after that time too.
//! - A body must arrive within the same time (see `work::read_body`).
//! - An answer the client stops reading is abandoned after [`Limits::send_timeout`]
//!   without progress ([`SendTimeout`]).
//! - At most [`Limits::max_connections`] connections are served at once; further ones
//!   wait in the system's queue until one closes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use crate::book::Books;
use crate::{router_with_books, Limits};

/// A bound listener and the router, ready to serve.
pub struct Server {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    router: Router,
    limits: Limits,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) with the default limits.
    ///
    /// # Errors
    ///
    /// The bind error, e.g. [`std::io::ErrorKind::AddrInUse`] when the port is taken.
    pub async fn bind(addr: SocketAddr) -> io::Result<Server> {
        Server::bind_with(addr, Limits::default()).await
    }

    /// Binds `addr` with the given limits.
    ///
    /// # Errors
    ///
    /// The bind error.
    pub async fn bind_with(addr: SocketAddr, limits: Limits) -> io::Result<Server> {
        Server::bind_with_books(addr, limits, Books::new()).await
    }

    /// Binds `addr` with the given limits and workbooks already open (`gradsheet serve
    /// --book FILE`).
    ///
    /// # Errors
    ///
    /// The bind error.
    pub async fn bind_with_books(
        addr: SocketAddr,
        limits: Limits,
        books: Books,
    ) -> io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Server {
            listener,
            addr,
            router: router_with_books(limits.clone(), books),
            limits,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The app's URL, e.g. `http://127.0.0.1:8080/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Serves until the process ends.
    ///
    /// # Errors
    ///
    /// None so far: a failed accept (a connection reset before it was accepted, no file
    /// descriptors left) is waited out, not returned.
    pub async fn run(self) -> io::Result<()> {
        let slots = Arc::new(Semaphore::new(self.limits.max_connections.max(1)));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return Ok(());
            };
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors (or memory), retrying at once would spin;
                    // a peer that gave up before the accept is nothing to wait for.
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                    ) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(self.router.clone());
            let lim = &self.limits;
            let io = TokioIo::new(SendTimeout::new(stream, lim.send_timeout));
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(lim.read_timeout);
            let conn = http.serve_connection(io, service);
            tokio::spawn(async move {
                // A connection ends in an error when it times out or the peer goes away:
                // nothing to report, the slot is free again either way.
                let _ = conn.await;
                drop(slot);
            });
        }
    }
}

/// Binds `addr` and serves the app until the process ends.
///
/// # Errors
///
/// The bind error or an IO error of the listener.
pub async fn serve(addr: SocketAddr) -> io::Result<()> {
    Server::bind(addr).await?.run().await
}

/// A stream whose writes fail with [`io::ErrorKind::TimedOut`] once they have made no
/// progress for `limit`: a client that stops reading its answer (or vanished without
/// closing) frees its connection.
pub struct SendTimeout<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> SendTimeout<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limit: Duration) -> SendTimeout<S> {
        SendTimeout {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Passes a ready poll through (progress: the clock stops), or starts or checks the
    /// clock of a pending one.
    fn watch<T>(&mut self, cx: &mut Context<'_>, p: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if p.is_ready() {
            self.stalled = None;
            return p;
        }
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client did not read the answer",
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SendTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SendTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, p)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, p)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, p)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::SendTimeout;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// A peer that never reads: the writes fill the pipe, then fail once the limit has
    /// passed without progress. A peer that reads keeps the writes going.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_write_nobody_reads_times_out() {
        let (a, _unread) = tokio::io::duplex(64);
        let mut w = SendTimeout::new(a, Duration::from_secs(5));
        let t0 = tokio::time::Instant::now();
        let e = w.write_all(&[0u8; 1000]).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(t0.elapsed(), Duration::from_secs(5));

        let (a, mut reader) = tokio::io::duplex(64);
        let mut w = SendTimeout::new(a, Duration::from_secs(5));
        let drain = tokio::spawn(async move {
            let mut sink = Vec::new();
            // Slower in all than the limit, but never 5 s without reading.
            let mut buf = [0u8; 64];
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                match tokio::io::AsyncReadExt::read(&mut reader, &mut buf).await {
                    Ok(0) | Err(_) => return sink,
                    Ok(n) => sink.extend_from_slice(&buf[..n]),
                }
            }
        });
        w.write_all(&[7u8; 1000]).await.unwrap();
        w.shutdown().await.unwrap();
        drop(w);
        assert_eq!(drain.await.unwrap(), vec![7u8; 1000]);
    }
}
