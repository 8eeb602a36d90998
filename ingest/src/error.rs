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
    #[error("unsupported content type {0:?}; expected application/x-protobuf or application/json")]
    UnsupportedMediaType(String),
    #[error("unsupported content encoding {0:?}; expected gzip or identity")]
    UnsupportedEncoding(String),
    #[error("request body exceeds the limit of {limit} bytes{context}")]
    TooLarge { limit: u64, context: &'static str },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Seconds a client is asked to wait after a 429.
pub const RETRY_AFTER_SECS: u64 = 1;

impl IngestError {
    pub fn http_status(&self) -> StatusCode {
        match self {
            IngestError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IngestError::UnsupportedMediaType(_) | IngestError::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            IngestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::Storage(e) => match e {
                StorageError::InvalidTenant(_) => StatusCode::BAD_REQUEST,
                StorageError::Backpressure { .. } => StatusCode::TOO_MANY_REQUESTS,
                StorageError::Closed(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    pub fn grpc_status(&self) -> tonic::Status {
        let msg = self.to_string();
        match self {
            IngestError::BadRequest(_)
            | IngestError::UnsupportedMediaType(_)
            | IngestError::UnsupportedEncoding(_) => tonic::Status::invalid_argument(msg),
            IngestError::TooLarge { .. } => tonic::Status::resource_exhausted(msg),
            IngestError::Storage(e) => match e {
                StorageError::InvalidTenant(_) => tonic::Status::invalid_argument(msg),
                StorageError::Backpressure { .. } => tonic::Status::resource_exhausted(msg),
                StorageError::Closed(_) => tonic::Status::unavailable(msg),
                _ => tonic::Status::internal(msg),
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
        let body = serde_json::json!({"status": "error", "error": self.to_string()});
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        resp
    }
}
