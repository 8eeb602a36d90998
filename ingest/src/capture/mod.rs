//! Stdout capture clients (`osprey run`, `osprey pipe`): a program's output lines are
//! passed through to the terminal and shipped to an Osprey server's `POST
//! /api/v1/logs`, in gzip batches, one request per stream (`stream=stdout|stderr`).
//!
//! Shipping never blocks the program: lines go into a bounded in-memory buffer
//! ([`ShipperConfig::buffer_bytes`]). While the server is down or slow, the shipper
//! retries the batch it holds with exponential backoff, and when the buffer is full the
//! oldest lines are dropped and counted. The count is reported on stderr at exit and
//! shipped as a line of its own once the server answers again. There is no spill to
//! disk: a capture client must not fill the disk of the host it runs on, and the
//! buffer (16 MiB by default) covers a restart of the server.

pub mod run;
pub mod tail;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

/// The shipper's HTTP(S) client.
type ShipClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;
use hyper_util::rt::TokioExecutor;

/// Which output a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
    /// NDJSON events that carry their own stream (`osprey tail`).
    Events,
}

impl Stream {
    fn query(self) -> &'static str {
        match self {
            Stream::Stdout => "&stream=stdout",
            Stream::Stderr => "&stream=stderr",
            Stream::Events => "",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ShipperConfig {
    /// Base URL of the server, e.g. `http://127.0.0.1:9800`.
    pub endpoint: String,
    pub service: String,
    pub tenant: Option<String>,
    /// API token, sent as `Authorization: Bearer`.
    pub token: Option<String>,
    /// How an `https://` endpoint is verified.
    pub tls: osprey_tls::ClientOptions,
    /// Most bytes of lines held while they wait to be shipped.
    pub buffer_bytes: usize,
    /// Most bytes of lines in one request.
    pub batch_bytes: usize,
    /// How often lines are shipped.
    pub interval: Duration,
}

impl ShipperConfig {
    pub fn new(endpoint: &str, service: &str) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            service: service.to_string(),
            tenant: None,
            token: None,
            tls: osprey_tls::ClientOptions::default(),
            buffer_bytes: 16 << 20,
            batch_bytes: 1 << 20,
            interval: Duration::from_millis(200),
        }
    }
}

#[derive(Default)]
struct Buffer {
    lines: VecDeque<(Stream, Vec<u8>)>,
    bytes: usize,
    dropped: u64,
    dropped_reported: u64,
    closed: bool,
}

/// Ships lines in the background; [`Shipper::push`] never waits.
#[derive(Clone)]
pub struct Shipper {
    cfg: Arc<ShipperConfig>,
    buf: Arc<Mutex<Buffer>>,
    wake: Arc<tokio::sync::Notify>,
}

/// What a shipper did, for the exit report.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ShipStats {
    pub shipped: u64,
    pub dropped: u64,
    /// Lines still unshipped when the shipper had to stop.
    pub unsent: u64,
}

impl Shipper {
    /// Starts the background task; `finish` stops it.
    pub fn start(cfg: ShipperConfig) -> (Self, tokio::task::JoinHandle<ShipStats>) {
        let s = Shipper {
            cfg: Arc::new(cfg),
            buf: Arc::new(Mutex::new(Buffer::default())),
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        let task = tokio::spawn(s.clone().run());
        (s, task)
    }

    /// Whether the buffer is under half full: a reader that can wait (a file) reads more
    /// only then, so its lines are never the ones dropped.
    pub fn has_room(&self) -> bool {
        self.buf
            .lock()
            .map_or(true, |b| b.bytes < self.cfg.buffer_bytes / 2)
    }

    /// Queues a line (without its newline); drops the oldest lines when full.
    pub fn push(&self, stream: Stream, line: Vec<u8>) {
        let Ok(mut b) = self.buf.lock() else { return };
        b.bytes += line.len() + 1;
        b.lines.push_back((stream, line));
        while b.bytes > self.cfg.buffer_bytes {
            match b.lines.pop_front() {
                Some((_, old)) => {
                    b.bytes -= old.len() + 1;
                    b.dropped += 1;
                }
                None => break,
            }
        }
        if b.bytes >= self.cfg.batch_bytes {
            self.wake.notify_one();
        }
    }

    /// No more lines: ship what is left (the task ends when it has, or at `deadline`).
    pub fn close(&self) {
        if let Ok(mut b) = self.buf.lock() {
            b.closed = true;
        }
        self.wake.notify_one();
    }

    /// Takes up to `batch_bytes` of lines of the first line's stream.
    fn take_batch(&self) -> Option<(Stream, Vec<u8>, u64)> {
        let mut b = self.buf.lock().ok()?;
        let stream = b.lines.front()?.0;
        let mut body = Vec::new();
        let mut n = 0u64;
        while let Some((s, line)) = b.lines.front() {
            if *s != stream
                || (n > 0 && body.len() + line.len() + 1 > self.cfg.batch_bytes)
                || n >= crate::limits::MAX_RECORDS
            {
                break;
            }
            let Some((_, line)) = b.lines.pop_front() else {
                break;
            };
            b.bytes -= line.len() + 1;
            body.extend_from_slice(&line);
            body.push(b'\n');
            n += 1;
        }
        Some((stream, body, n))
    }

    async fn run(self) -> ShipStats {
        let mut stats = ShipStats::default();
        // The options were checked when the command started.
        let https = if self.cfg.endpoint.starts_with("https://") {
            match osprey_tls::https_connector(&self.cfg.tls, false) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("osprey: cannot ship lines: {e}");
                    return stats;
                }
            }
        } else {
            osprey_tls::http_connector(false)
        };
        let client: ShipClient = Client::builder(TokioExecutor::new()).build(https);
        let mut backoff = Duration::from_millis(100);
        let mut held: Option<(Stream, Vec<u8>, u64)> = None;
        loop {
            // Report drops as a line of their own once shipping works again.
            if held.is_none()
                && let Ok(mut b) = self.buf.lock()
                && b.dropped > b.dropped_reported
            {
                let n = b.dropped - b.dropped_reported;
                b.dropped_reported = b.dropped;
                let line = format!(
                    "osprey: dropped {n} lines while {} was unreachable or slow",
                    self.cfg.endpoint
                );
                held = Some((Stream::Stderr, format!("{line}\n").into_bytes(), 0));
            }
            if held.is_none() {
                held = self.take_batch();
            }
            let closed = self.buf.lock().map(|b| b.closed).unwrap_or(true);
            let Some((stream, body, n)) = held.take() else {
                if closed {
                    break;
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.cfg.interval) => {}
                }
                continue;
            };
            match self.send(&client, stream, &body).await {
                Ok(()) => {
                    stats.shipped += n;
                    backoff = Duration::from_millis(100);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "shipping failed; will retry");
                    held = Some((stream, body, n));
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        // Closing wakes us so the caller's deadline governs.
                        _ = self.wake.notified() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        if let Ok(b) = self.buf.lock() {
            stats.dropped = b.dropped;
            stats.unsent = b.lines.len() as u64;
        }
        stats
    }

    async fn send(&self, client: &ShipClient, stream: Stream, body: &[u8]) -> Result<(), String> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(body).map_err(|e| e.to_string())?;
        let gz = gz.finish().map_err(|e| e.to_string())?;
        let uri = format!(
            "{}/api/v1/logs?service={}{}",
            self.cfg.endpoint,
            url_escape(&self.cfg.service),
            stream.query()
        );
        let mut req = http::Request::post(uri)
            .header(http::header::CONTENT_TYPE, "text/plain")
            .header(http::header::CONTENT_ENCODING, "gzip");
        if let Some(t) = &self.cfg.tenant {
            req = req.header("X-Scope-OrgID", t);
        }
        if let Some(t) = &self.cfg.token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req
            .body(Full::new(Bytes::from(gz)))
            .map_err(|e| e.to_string())?;
        let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
            .await
            .map_err(|_| "request timed out".to_string())?
            .map_err(|e| osprey_tls::with_causes(&e))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else if status.is_client_error() && status != http::StatusCode::TOO_MANY_REQUESTS {
            // Retrying cannot help (bad service name, bad tenant): say so, drop the batch.
            eprintln!("osprey: the server refused a batch of log lines: {status}");
            Ok(())
        } else {
            Err(format!("server answered {status}"))
        }
    }
}

fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_drops_oldest_and_batches_by_stream() {
        let mut cfg = ShipperConfig::new("http://127.0.0.1:1/", "svc");
        cfg.buffer_bytes = 20;
        cfg.batch_bytes = 8;
        let s = Shipper {
            cfg: Arc::new(cfg),
            buf: Arc::new(Mutex::new(Buffer::default())),
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        for i in 0..6 {
            s.push(Stream::Stdout, format!("line{i}").into_bytes());
        }
        s.push(Stream::Stderr, b"err".to_vec());
        // 6 bytes per line: the buffer keeps the newest that fit.
        assert_eq!(s.buf.lock().unwrap().dropped, 4);
        let (st, body, n) = s.take_batch().unwrap();
        assert_eq!(
            (st, body.as_slice(), n),
            (Stream::Stdout, &b"line4\n"[..], 1)
        );
        assert_eq!(s.take_batch().unwrap().1, b"line5\n");
        assert_eq!(
            s.take_batch().unwrap(),
            (Stream::Stderr, b"err\n".to_vec(), 1)
        );
        assert!(s.take_batch().is_none());
        assert_eq!(url_escape("a b/é"), "a%20b%2F%C3%A9");
    }
}
