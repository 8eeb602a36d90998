//! The ingest crate's error type and its one mapping to HTTP and gRPC status codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use osprey_storage::StorageError;

/// Why a write was not accepted. Classified by whose fault it is, so that clients retry
/// only what they should (OTLP: 429/503 retryable, 400/413/415 not).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body cannot be decoded or violates the protocol.
    #[error("{0}")]
    BadRequest(String),
    /// The `Content-Type` sent and what the endpoint accepts.
    #[error("unsupported content type {got:?}; expected {expected}")]
    UnsupportedMediaType { got: String, expected: &'static str },
    /// The `Content-Encoding` sent and what the endpoint accepts.
    #[error("unsupported content encoding {got:?}; expected {expected}")]
    UnsupportedEncoding { got: String, expected: &'static str },
    #[error("request body exceeds the limit of {limit} bytes{context}")]
    TooLarge { limit: u64, context: &'static str },
    /// More records in one request than [`crate::limits::MAX_RECORDS`].
    #[error(
        "the request holds {count} {what}; at most {limit} are accepted in one request: send smaller batches"
    )]
    TooManyRecords {
        count: u64,
        limit: u64,
        what: &'static str,
    },
    /// Decoded, the request would take more memory than [`crate::limits::MAX_DECODED_BYTES`].
    #[error(
        "the request would take about {estimate} bytes of memory decoded; at most {limit} bytes are accepted in one request: send smaller batches"
    )]
    DecodedTooLarge { estimate: u64, limit: u64 },
    /// Requests being decoded already hold the in-flight budget; retry shortly.
    #[error(
        "ingest is busy: requests in flight hold its memory budget of {limit} bytes (server.ingest_inflight_limit); retry later"
    )]
    Busy { limit: u64 },
    /// The process's resident set is at the ingest share of `server.memory_limit`;
    /// retry once a flush has freed memtables.
    #[error(
        "ingest is paused: the server holds {resident} bytes, near its memory bound of {limit} bytes (server.memory_limit); retry later"
    )]
    MemoryLimit { resident: u64, limit: u64 },
    /// A record's shape breaks a per-tenant limit (`[limits]`): not retryable.
    #[error("{message}")]
    Shape {
        limit: &'static str,
        message: String,
    },
    /// A per-tenant rate (`[limits]`): retry after the time it names.
    #[error(transparent)]
    Limit(#[from] osprey_auth::LimitError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Another ingester's answer to a part of this request forwarded to it (a cluster's
    /// write path): its status (400 for what it refused as bad; 503 when it did not
    /// answer in time or no ingester took the part) and its message.
    #[error("{message}")]
    Peer { status: StatusCode, message: String },
}

/// Seconds a client is asked to wait after a 429 or 503.
pub const RETRY_AFTER_SECS: u64 = 1;

impl IngestError {
    pub fn http_status(&self) -> StatusCode {
        match self {
            IngestError::BadRequest(_) | IngestError::Shape { .. } => StatusCode::BAD_REQUEST,
            IngestError::UnsupportedMediaType { .. } | IngestError::UnsupportedEncoding { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            IngestError::TooLarge { .. }
            | IngestError::TooManyRecords { .. }
            | IngestError::DecodedTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::Busy { .. } | IngestError::MemoryLimit { .. } | IngestError::Limit(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            IngestError::Peer { status, .. } => *status,
            IngestError::Storage(e) => match e {
                StorageError::InvalidTenant(_) => StatusCode::BAD_REQUEST,
                StorageError::Backpressure { .. } => StatusCode::TOO_MANY_REQUESTS,
                StorageError::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                StorageError::Closed(_) => StatusCode::SERVICE_UNAVAILABLE,
                e if e.is_disk_full() => StatusCode::INSUFFICIENT_STORAGE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// Seconds a client should wait before retrying, for the statuses that ask it to.
    pub fn retry_after(&self) -> Option<u64> {
        if let IngestError::Limit(e) = self {
            return Some(e.retry_after());
        }
        match self.http_status() {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                Some(RETRY_AFTER_SECS)
            }
            StatusCode::INSUFFICIENT_STORAGE => Some(osprey_storage::DISK_FULL_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    /// The message for the client: storage errors without the server's file paths.
    pub fn client_message(&self) -> String {
        match self {
            IngestError::Storage(e) => e.client_message(),
            other => other.to_string(),
        }
    }

    pub fn grpc_status(&self) -> tonic::Status {
        let msg = self.client_message();
        match self {
            // Never fits as it is: not retryable (OTLP exporters retry RESOURCE_EXHAUSTED
            // and OUT_OF_RANGE), whatever its size or shape.
            IngestError::BadRequest(_)
            | IngestError::Shape { .. }
            | IngestError::UnsupportedMediaType { .. }
            | IngestError::UnsupportedEncoding { .. }
            | IngestError::TooLarge { .. }
            | IngestError::TooManyRecords { .. }
            | IngestError::DecodedTooLarge { .. } => tonic::Status::invalid_argument(msg),
            // Transient overload only.
            IngestError::Busy { .. } | IngestError::MemoryLimit { .. } | IngestError::Limit(_) => {
                tonic::Status::resource_exhausted(msg)
            }
            IngestError::Storage(e) => match e {
                StorageError::InvalidTenant(_) | StorageError::BatchTooLarge { .. } => {
                    tonic::Status::invalid_argument(msg)
                }
                StorageError::Backpressure { .. } => tonic::Status::resource_exhausted(msg),
                StorageError::Closed(_) => tonic::Status::unavailable(msg),
                // Retried by OTLP clients, as the write may fit once space is freed.
                e if e.is_disk_full() => tonic::Status::unavailable(msg),
                _ => tonic::Status::internal(msg),
            },
            IngestError::Peer { status, .. } => match *status {
                s if s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS => {
                    tonic::Status::invalid_argument(msg)
                }
                StatusCode::TOO_MANY_REQUESTS => tonic::Status::resource_exhausted(msg),
                _ => tonic::Status::unavailable(msg),
            },
        }
    }

    /// Whether to log it as a server-side problem.
    pub fn is_server_fault(&self) -> bool {
        self.http_status().is_server_error()
    }
}

/// Plain JSON error body for non-OTLP endpoints (remote_write, …).
impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = self.http_status();
        if self.is_server_fault() {
            tracing::error!(error = %self, "ingest failed");
        }
        let body = serde_json::json!({"status": "error", "error": self.client_message()});
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
