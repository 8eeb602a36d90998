//! Admission: whether ingest takes a request in before reading and decoding it.
//!
//! A request is refused at once (429 / RESOURCE_EXHAUSTED with Retry-After, before its
//! body is read) when storage has no room for its body under its memory limit, when
//! the process is near `server.memory_limit`, or when the requests being read and
//! decoded already hold `server.ingest_inflight_limit`. Each request holds about
//! [`DECODE_FACTOR`] times its body until its answer is made: the body, the decoded
//! protocol structures and the Arrow batch built from them. Only its first
//! [`FIRST_BYTES`] are reserved before the body is read; the rest is reserved as it
//! arrives (`admission/metered.rs`), so a client that declares a large body and sends
//! it slowly holds only what it has sent, and a body that cannot get its share is read
//! to its end, dropped and refused. So under overload memory stays near
//! `memtable_limit + ingest_inflight_limit`, and every protocol answers as fast as the
//! check (the gRPC listener gets the same check as a tower layer in front of tonic's
//! decoding, `admission/grpc.rs`, sized by the message's length prefix).

mod grpc;
mod memory;
mod metered;

pub use grpc::GrpcLayer;
pub use memory::MemoryWatch;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use osprey_storage::Storage;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::IngestError;

/// Memory a request takes while decoded, per byte of its (decompressed) body:
/// the body itself, protocol structures (strings and vectors of prost messages or
/// JSON values) and the Arrow batch. Requests with pathologically many tiny records
/// are bounded separately, before they are decoded (`limits.rs`).
pub const DECODE_FACTOR: u64 = 4;

/// What a compressed body is assumed to grow to (capped at `server.max_body_size`).
pub(crate) const COMPRESSION_RATIO: u64 = 8;

/// The part of an HTTP body whose share is reserved before it is read; the rest is
/// reserved as it arrives (`admission/metered.rs`).
pub(crate) const FIRST_BYTES: u64 = 256 * 1024;

/// The budget of requests in flight, shared by every ingest route and listener.
#[derive(Clone)]
pub struct Admission {
    storage: Storage,
    budget: Arc<Semaphore>,
    /// The budget in KiB (permits are KiB).
    limit_kib: u32,
    max_body: u64,
    /// `server.memory_limit`, when set.
    memory: Option<Arc<MemoryWatch>>,
}

impl Admission {
    pub fn new(storage: Storage, inflight_limit: u64, max_body: u64) -> Self {
        let limit_kib = u32::try_from(inflight_limit / 1024)
            .unwrap_or(u32::MAX)
            .max(1);
        Self {
            storage,
            budget: Arc::new(Semaphore::new(limit_kib as usize)),
            limit_kib,
            max_body,
            memory: None,
        }
    }

    /// Refuses ingest while the process's resident set is within `headroom` of
    /// `limit` bytes (`server.memory_limit`) and memtables hold rows a flush frees.
    pub fn watch_memory(&mut self, limit: u64, headroom: u64) {
        self.memory = (limit > 0).then(|| MemoryWatch::start(limit, headroom));
    }

    /// Takes in a request whose decompressed body is about `body_bytes`, or says why
    /// not, reserving its whole share at once (the tests hold budget with it). A
    /// single request always fits an idle budget.
    #[cfg(test)]
    pub(crate) fn admit(&self, body_bytes: u64) -> Result<OwnedSemaphorePermit, IngestError> {
        let body_bytes = body_bytes.min(self.max_body);
        self.check(body_bytes)?;
        self.reserve(self.rate(1).kib_for(body_bytes))
    }

    /// Takes in a request that declares `declared` decompressed bytes, `ratio` of
    /// them per byte received: storage and the memory bound are checked for all of
    /// it, the budget is reserved for its first [`FIRST_BYTES`], and its metered body
    /// takes the rest as it arrives.
    fn admit_streaming(
        &self,
        declared: u64,
        ratio: u64,
    ) -> Result<metered::Streaming, IngestError> {
        let rate = self.rate(ratio);
        self.check(declared)?;
        let first = self.reserve(rate.kib_for(FIRST_BYTES.min(declared) / ratio))?;
        Ok(metered::Streaming {
            budget: Arc::clone(&self.budget),
            rate,
            reservation: metered::Reservation::new(first),
        })
    }

    /// Whether storage and the memory bound have room for `body_bytes` more.
    fn check(&self, body_bytes: u64) -> Result<(), IngestError> {
        self.storage.check_room(body_bytes)?;
        // Past the memory bound, wait for a flush to free memtables; with nothing left
        // to flush, what holds the memory is not ingest's, and refusing would not help.
        if let Some(watch) = &self.memory
            && let Some(resident) = watch.over()
            && self.storage.buffered_bytes() > 0
        {
            self.storage.request_flush();
            return Err(IngestError::MemoryLimit {
                resident,
                limit: watch.limit(),
            });
        }
        Ok(())
    }

    fn reserve(&self, kib: u32) -> Result<OwnedSemaphorePermit, IngestError> {
        Arc::clone(&self.budget)
            .try_acquire_many_owned(kib)
            .map_err(|_| self.busy())
    }

    fn busy(&self) -> IngestError {
        IngestError::Busy {
            limit: u64::from(self.limit_kib) * 1024,
        }
    }

    fn rate(&self, ratio: u64) -> metered::Rate {
        metered::Rate {
            ratio,
            max_body: self.max_body,
            limit_kib: self.limit_kib,
        }
    }

    /// The decompressed size an HTTP request's headers announce (the largest body
    /// allowed when they do not say), and the decompressed bytes assumed per byte
    /// received.
    fn http_body_bytes(&self, req: &Request) -> (u64, u64) {
        let h = req.headers();
        let declared = h
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let encoded = h
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.trim().eq_ignore_ascii_case("identity"))
            // remote_write bodies are snappy-compressed without saying so.
            || req.uri().path() == "/api/v1/write";
        let ratio = if encoded { COMPRESSION_RATIO } else { 1 };
        let bytes = declared.map_or(self.max_body, |n| n.saturating_mul(ratio));
        (bytes.min(self.max_body), ratio)
    }
}

/// Axum middleware for the HTTP ingest routes ([`Admission::admit_streaming`]);
/// refusals are the surface's plain JSON error.
pub async fn http(State(adm): State<Admission>, req: Request, next: Next) -> Response {
    admit_http(adm, req, next, IngestError::into_response).await
}

/// The same for the OTLP/HTTP routes: a refusal is a `google.rpc.Status` in the
/// request's own encoding, as the OTLP/HTTP specification asks of every error.
pub async fn otlp_http(State(adm): State<Admission>, req: Request, next: Next) -> Response {
    let format =
        crate::body::Format::from_headers(req.headers()).unwrap_or(crate::body::Format::Json);
    admit_http(adm, req, next, move |e| {
        crate::otlp::http::error_response(&e, format)
    })
    .await
}

async fn admit_http(
    adm: Admission,
    req: Request,
    next: Next,
    refuse: impl FnOnce(IngestError) -> Response,
) -> Response {
    let (declared, ratio) = adm.http_body_bytes(&req);
    match adm.admit_streaming(declared, ratio) {
        Ok(streaming) => {
            let req = req.map(|body| axum::body::Body::new(streaming.meter(body)));
            let resp = next.run(req).await;
            if streaming.refused() {
                return refuse(adm.busy());
            }
            resp
        }
        Err(e) => {
            drain(req.into_body(), adm.max_body).await;
            refuse(e)
        }
    }
}

/// How long a refused request's body may take to be read and dropped.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads and drops a refused request's body (at most `max` bytes, for at most
/// [`DRAIN_TIMEOUT`]) before the refusal is sent. Closing a connection with unread
/// bytes makes the kernel reset it, and a client still sending its body then loses
/// the 429 too ("connection closed without response"), which 9 of 480 overloaded
/// requests did in a probe. Nothing is kept: memory stays one frame.
async fn drain(body: axum::body::Body, max: u64) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut read = 0u64;
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while read <= max {
            match body.frame().await {
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, |d| d.len() as u64);
                }
                _ => return,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprey_storage::Signal;
    use osprey_storage::schema::{LogRow, logs_batch};

    fn storage(dir: &std::path::Path, memtable_limit: u64) -> Storage {
        let cfg = osprey_config::StorageConfig {
            memtable_limit: bytesize::ByteSize::b(memtable_limit),
            ..Default::default()
        };
        Storage::open(dir, cfg).unwrap()
    }

    #[tokio::test]
    async fn budget_is_shared_and_given_back() {
        let dir = tempfile::tempdir().unwrap();
        let adm = Admission::new(storage(dir.path(), 1 << 30), 1 << 20, 16 << 20);
        let a = adm.admit(100 * 1024).unwrap(); // 400 KiB of 1 MiB
        let b = adm.admit(100 * 1024).unwrap(); // 800 KiB
        let Err(e) = adm.admit(100 * 1024) else {
            panic!("over the budget");
        };
        assert_eq!(e.http_status(), http::StatusCode::TOO_MANY_REQUESTS);
        assert!(e.to_string().contains("in flight"), "{e}");
        drop(a);
        let _c = adm.admit(100 * 1024).unwrap();
        drop(b);
        // One request larger than the whole budget still fits an idle one.
        let dir2 = tempfile::tempdir().unwrap();
        let idle = Admission::new(storage(dir2.path(), 1 << 30), 1 << 20, 16 << 20);
        assert!(idle.admit(16 << 20).is_ok());
    }

    /// A router whose one route reads the whole body, behind the admission middleware.
    fn app(adm: &Admission) -> axum::Router {
        axum::Router::new()
            .route(
                "/v1/logs",
                axum::routing::post(
                    |body: axum::body::Bytes| async move { body.len().to_string() },
                ),
            )
            .layer(axum::extract::DefaultBodyLimit::max(32 << 20))
            .layer(axum::middleware::from_fn_with_state(adm.clone(), http))
    }

    /// A request declaring `declared` bytes whose body is what `rx` sends.
    fn streamed(declared: u64, rx: tokio::sync::mpsc::Receiver<Vec<u8>>) -> Request {
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|c| (Ok::<_, std::io::Error>(c), rx))
        });
        http::Request::post("/v1/logs")
            .header(header::CONTENT_LENGTH, declared)
            .body(axum::body::Body::from_stream(stream))
            .unwrap()
    }

    #[tokio::test]
    async fn a_slow_large_body_holds_only_what_it_has_sent() {
        use tower::ServiceExt;
        let dir = tempfile::tempdir().unwrap();
        let adm = Admission::new(storage(dir.path(), 1 << 30), 8 << 20, 16 << 20);
        // A client declares 16 MiB (64 MiB of budget, clamped to all 8 MiB before this
        // change) and sends 10 KiB, then stalls.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let slow = tokio::spawn(app(&adm).oneshot(streamed(16 << 20, rx)));
        tx.send(vec![b'x'; 10 * 1024]).await.unwrap();
        tokio::task::yield_now().await;
        // Another request is taken in meanwhile.
        let (tx2, rx2) = tokio::sync::mpsc::channel(1);
        tx2.send(vec![b'y'; 100 * 1024]).await.unwrap();
        drop(tx2);
        let resp = app(&adm).oneshot(streamed(100 * 1024, rx2)).await.unwrap();
        assert_eq!(resp.status(), http::StatusCode::OK);
        // The slow one goes on and completes (alone, its share fits the budget).
        for _ in 0..4 {
            tx.send(vec![b'x'; 1 << 20]).await.unwrap();
        }
        drop(tx);
        let resp = slow.await.unwrap().unwrap();
        assert_eq!(resp.status(), http::StatusCode::OK);
        // Every permit is back.
        assert_eq!(adm.budget.available_permits(), 8 * 1024);
    }

    #[tokio::test]
    async fn a_body_that_cannot_get_its_share_is_read_and_refused() {
        use tower::ServiceExt;
        let dir = tempfile::tempdir().unwrap();
        let adm = Admission::new(storage(dir.path(), 1 << 30), 8 << 20, 16 << 20);
        let held = adm.admit(1536 * 1024).unwrap(); // 6 MiB of 8
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let req = tokio::spawn(app(&adm).oneshot(streamed(2 << 20, rx)));
        // 2 MiB need 8 MiB of budget; the first 256 KiB (1 MiB) fit, the rest does not.
        for _ in 0..8 {
            tx.send(vec![b'z'; 256 * 1024]).await.unwrap();
        }
        drop(tx);
        let resp = req.await.unwrap().unwrap();
        assert_eq!(resp.status(), http::StatusCode::TOO_MANY_REQUESTS);
        assert!(resp.headers().contains_key(header::RETRY_AFTER));
        drop(held);
        assert_eq!(adm.budget.available_permits(), 8 * 1024);
    }

    #[tokio::test]
    async fn otlp_refusals_are_a_status_in_the_request_encoding() {
        use prost::Message;
        use tower::ServiceExt;
        let dir = tempfile::tempdir().unwrap();
        let adm = Admission::new(storage(dir.path(), 1 << 30), 1 << 20, 16 << 20);
        let _held = adm.admit(200 * 1024).unwrap(); // 800 KiB of 1 MiB
        let otlp = axum::Router::new()
            .route("/v1/logs", axum::routing::post(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(adm.clone(), otlp_http));
        for (ct, protobuf) in [
            ("application/x-protobuf", true),
            ("application/json", false),
        ] {
            let req = http::Request::post("/v1/logs")
                .header(header::CONTENT_TYPE, ct)
                .header(header::CONTENT_LENGTH, 100 * 1024)
                .body(axum::body::Body::from(vec![0u8; 100 * 1024]))
                .unwrap();
            let resp = otlp.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), http::StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(resp.headers()[header::CONTENT_TYPE], ct);
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            let message = if protobuf {
                crate::otlp::http::RpcStatus::decode(body).unwrap().message
            } else {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                v["message"].as_str().unwrap().to_string()
            };
            assert!(message.contains("ingest_inflight_limit"), "{message}");
        }
    }

    #[tokio::test]
    async fn a_full_memtable_refuses_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let s = storage(dir.path(), 256 * 1024);
        let rows: Vec<LogRow> = (0..200)
            .map(|i| LogRow {
                service: "s".into(),
                body: format!("line {i} with some padding to take room"),
                ..Default::default()
            })
            .collect();
        while s
            .append("t", Signal::Logs, logs_batch(&rows).unwrap())
            .await
            .is_ok()
        {}
        let adm = Admission::new(s, 1 << 20, 16 << 20);
        let Err(e) = adm.admit(64 * 1024) else {
            panic!("storage has no room");
        };
        assert_eq!(e.http_status(), http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.grpc_status().code(), tonic::Code::ResourceExhausted);
    }
}
