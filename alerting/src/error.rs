//! The alerting crate's error type.

use axum::http::StatusCode;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AlertingError {
    /// A rule file cannot be read or is not valid; the message names the file.
    #[error("{file}: {message}")]
    RuleFile { file: String, message: String },
    /// A request's input is not acceptable (400); the message says why.
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A template does not parse or fails to run.
    #[error("{0}")]
    Template(String),
    #[error(transparent)]
    Query(#[from] osprey_query::QueryError),
    /// A rule file cannot be written: its disk is full (507).
    #[error("{file}: cannot write: the disk is full")]
    DiskFull { file: String },
    #[error(transparent)]
    Storage(#[from] osprey_storage::StorageError),
}

impl AlertingError {
    /// The HTTP status of this error, for every API of the crate.
    pub fn status(&self) -> StatusCode {
        match self {
            AlertingError::Invalid(_) => StatusCode::BAD_REQUEST,
            AlertingError::NotFound(_) => StatusCode::NOT_FOUND,
            AlertingError::DiskFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
            AlertingError::Storage(e) if e.is_disk_full() => StatusCode::INSUFFICIENT_STORAGE,
            AlertingError::Query(e) => e.status(),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message for a client: storage errors without the server's paths (the log
    /// has them).
    pub fn client_message(&self) -> String {
        match self {
            AlertingError::Storage(e) if e.is_disk_full() => {
                "cannot save: the disk is full; retry once space is freed".into()
            }
            AlertingError::DiskFull { .. } => {
                "cannot write the rule file: the disk is full; retry once space is freed".into()
            }
            AlertingError::Storage(e) => e.client_message(),
            e => e.to_string(),
        }
    }
}
