//! The storage crate's error type.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in storage, classified so that surfaces can map it:
/// `InvalidTenant` is the client's fault, `Backpressure` asks it to retry later, the
/// rest are server-side.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid tenant id {0:?}: expected 1-64 characters of [A-Za-z0-9_.-], not '.' or '..'")]
    InvalidTenant(String),
    #[error("ingest is over its memory limit ({used} of {limit} bytes buffered); retry later")]
    Backpressure { used: u64, limit: u64 },
    #[error("record of {0} bytes is too large for the WAL")]
    RecordTooLarge(usize),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt WAL segment {path} at offset {offset}: {reason}")]
    CorruptWal {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("corrupt manifest {path}: {reason}")]
    CorruptManifest { path: PathBuf, reason: String },
    #[error("object store, {path}: {source}")]
    ObjectStore {
        path: String,
        source: Box<object_store::Error>,
    },
    #[error("full-text index {path}: {reason}")]
    Index { path: String, reason: String },
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("{key}: {message}")]
    Config { key: &'static str, message: String },
    #[error("storage is shutting down or has failed: {0}")]
    Closed(String),
}

impl StorageError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
