//! How every listener accepts connections: at most `max_connections` open at once, a
//! deadline for a connection's first bytes and for each request's headers, and a
//! deadline for each request's body. A client that sends slowly (or not at all) is
//! disconnected instead of holding a connection and its memory forever.
//!
//! - HTTP listeners (API + UI, OTLP HTTP) run hyper's HTTP/1 and HTTP/2 server
//!   here: hyper's `header_read_timeout` bounds each HTTP/1 request head, [`Guarded`]
//!   bounds the first bytes (an HTTP/2 preface, or a connection that never speaks),
//!   and [`deadline_bodies`] fails a body still arriving after `body_read_timeout`
//!   and answers 408.
//! - The gRPC listener keeps tonic's server (its HTTP/2 settings and codecs) and gets
//!   its connections from [`incoming`]: the same connection limit and first-bytes
//!   deadline; tonic's request timeout bounds a request's body and handling.
//! - With `[tls]`, every connection first completes its TLS handshake within
//!   `header_read_timeout` (`conn.rs`).
//! - A client that stops reading (a stalled reader of a live tail, or of a large
//!   answer) is disconnected once a write has waited `write_timeout` for it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;

mod conn;
pub use conn::Conn;
use tokio::time::{Instant, Sleep};

/// Bytes a connection must deliver before `header_read_timeout` (the HTTP/2
/// connection preface is 24 bytes; an HTTP/1 request line is longer).
const FIRST_BYTES: usize = 24;

/// How often an idle HTTP/2 connection is pinged, and how long the ack may take
/// before the connection is closed (a peer that stopped reading).
pub const H2_KEEPALIVE: Duration = Duration::from_secs(30);

/// The limits of one listener (`[server]` in the config).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(c: &osprey_config::ServerConfig) -> Self {
        Self {
            header_read_timeout: c.header_read_timeout,
            body_read_timeout: c.body_read_timeout,
            write_timeout: c.write_timeout,
            max_connections: c.max_connections,
        }
    }
}

/// Serves `app` on `listener` with `limits` until `stop` turns true, then lets open
/// connections finish their requests (graceful shutdown) and returns.
pub async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let app = deadline_bodies(app, limits.body_read_timeout);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEPALIVE)
        .keep_alive_timeout(H2_KEEPALIVE);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            a = accept(&listener, &permits, &limits) => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (builder, app, tls) = (builder.clone(), app.clone(), tls.clone());
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let io = match Conn::open(accepted, tls.as_ref(), limits.header_read_timeout).await {
                Ok(c) => TokioIo::new(c),
                Err(e) => return tracing::debug!(error = %e, "connection closed before TLS"),
            };
            let conn = builder
                .serve_connection_with_upgrades(io, TowerToHyperService::new(app))
                .into_owned();
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => return log_conn_end(r),
                _ = stop.wait_for(|s| *s) => {}
            }
            conn.as_mut().graceful_shutdown();
            log_conn_end(conn.await);
        });
    }
    drop(listener);
    // Every connection holds a permit until it ends: all returned means all drained.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
    Ok(())
}

fn log_conn_end(r: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(e) = r {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// The gRPC listener's connections: limited in number, with a deadline for their
/// first bytes (and TLS handshake, with `tls`). Handshakes run side by side, so a slow
/// one holds up no other connection. Ends when `stop` turns true.
pub fn incoming(
    listener: TcpListener,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) -> impl futures::Stream<Item = io::Result<Conn>> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (tx, rx) = tokio::sync::mpsc::channel::<Conn>(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = accept(&listener, &permits, &limits) => a,
                _ = stop.wait_for(|s| *s) => return,
            };
            let (tx, tls) = (tx.clone(), tls.clone());
            tokio::spawn(async move {
                match Conn::open(accepted, tls.as_ref(), limits.header_read_timeout).await {
                    Ok(c) => {
                        let _ = tx.send(c).await;
                    }
                    Err(e) => tracing::debug!(error = %e, "gRPC connection closed before TLS"),
                }
            });
        }
    });
    futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|c| (Ok(c), rx)) },
    )
}

/// Waits for a free connection slot, then for a connection. Accept errors (a peer
/// that reset, too many open files) are logged and retried after a short pause.
async fn accept(listener: &TcpListener, permits: &Arc<Semaphore>, limits: &Limits) -> Guarded {
    let permit = loop {
        match Arc::clone(permits).acquire_owned().await {
            Ok(p) => break p,
            // Never closed; wait as if full.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    if permits.available_permits() == 0 {
        tracing::warn!("connection limit (server.max_connections) reached; new clients wait");
    }
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                let _ = stream.set_nodelay(true);
                return Guarded::new(stream, permit, limits);
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A connection that holds its slot until dropped and fails its reads when its first
/// [`FIRST_BYTES`] have not arrived by the deadline.
pub struct Guarded {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    read: usize,
    deadline: Option<Pin<Box<Sleep>>>,
    /// How long a write may wait for the client to read (`server.write_timeout`).
    write_timeout: Duration,
    /// When the current write stops waiting: set while writes make no progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Guarded {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit, limits: &Limits) -> Self {
        Self {
            stream,
            _permit: permit,
            read: 0,
            deadline: Some(Box::pin(tokio::time::sleep_until(
                Instant::now() + limits.header_read_timeout,
            ))),
            write_timeout: limits.write_timeout,
            stalled: None,
        }
    }

    /// A write's outcome, failed once the client has read nothing for
    /// `write_timeout` (a stalled reader of a live tail or of a large answer): its
    /// connection closes and its slot and buffers are freed.
    fn progress<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let timeout = self.write_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stalled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing for server.write_timeout",
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.read += buf.filled().len() - before;
                if this.read >= FIRST_BYTES {
                    this.deadline = None;
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client sent too little before server.header_read_timeout",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.progress(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.progress(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.stream).poll_flush(cx);
        self.progress(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Every request body of `app` must arrive whole within `timeout` of the request's
/// start; past it the body fails (so nothing of it is stored) and the answer is 408,
/// whatever the handler made of the failed read.
fn deadline_bodies(app: Router, timeout: Duration) -> Router {
    app.layer(axum::middleware::from_fn(
        move |req: Request, next: axum::middleware::Next| async move {
            let expired = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&expired);
            let req = req.map(|body| Body::new(DeadlineBody::new(body, timeout, flag)));
            let resp = next.run(req).await;
            if expired.load(Ordering::SeqCst) {
                let msg = format!(
                    "request body not received within {} (server.body_read_timeout)\n",
                    humantime::format_duration(timeout)
                );
                return (
                    StatusCode::REQUEST_TIMEOUT,
                    [(header::CONNECTION, "close")],
                    msg,
                )
                    .into_response();
            }
            resp
        },
    ))
}

/// A body that fails once its deadline passes before its end, and says so in `expired`.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

impl DeadlineBody {
    fn new(inner: Body, timeout: Duration, expired: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            expired,
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending if this.deadline.as_mut().poll(cx).is_ready() => {
                this.expired.store(true, Ordering::SeqCst);
                Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request body not received within server.body_read_timeout",
                )))))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
