//! Admission: whether ingest takes a request in before reading and decoding it.
//!
//! A request is refused at once (429 / RESOURCE_EXHAUSTED with Retry-After, before its
//! body is read) when storage has no room for its body under its memory limit, or when the requests being
//! read and decoded already hold `server.ingest_inflight_limit`. Each request reserves
//! about [`DECODE_FACTOR`] times its body until its answer is made: the body, the
//! decoded protocol structures and the Arrow batch built from them. So under overload
//! memory stays near `memtable_limit + ingest_inflight_limit`, and every protocol
//! answers as fast as the check (the gRPC listener gets the same check as a tower
//! layer in front of tonic's decoding, `admission/grpc.rs`, sized by the message's
//! length prefix).

mod grpc;
mod memory;

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

/// A request's share of the budget, given back when dropped.
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
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
    /// not. A single request always fits an idle budget.
    pub fn admit(&self, body_bytes: u64) -> Result<Admitted, IngestError> {
        let body_bytes = body_bytes.min(self.max_body);
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
        let want = body_bytes.saturating_mul(DECODE_FACTOR) / 1024;
        let kib = u32::try_from(want)
            .unwrap_or(u32::MAX)
            .clamp(1, self.limit_kib);
        Arc::clone(&self.budget)
            .try_acquire_many_owned(kib)
            .map(|permit| Admitted { _permit: permit })
            .map_err(|_| IngestError::Busy {
                limit: u64::from(self.limit_kib) * 1024,
            })
    }

    /// The decompressed size an HTTP request's headers announce (the largest body
    /// allowed when they do not say).
    fn http_body_bytes(&self, req: &Request) -> u64 {
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
        match declared {
            Some(n) if encoded => n.saturating_mul(COMPRESSION_RATIO),
            Some(n) => n,
            None => self.max_body,
        }
        .min(self.max_body)
    }
}

/// Axum middleware for the HTTP ingest routes.
pub async fn http(State(adm): State<Admission>, req: Request, next: Next) -> Response {
    match adm.admit(adm.http_body_bytes(&req)) {
        Ok(admitted) => {
            let resp = next.run(req).await;
            drop(admitted);
            resp
        }
        Err(e) => {
            drain(req.into_body(), adm.max_body).await;
            e.into_response()
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
