//! The storage crate's error type.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in storage, classified so that surfaces can map it:
/// `InvalidTenant` and `BatchTooLarge` are the client's fault, `Backpressure` asks it
/// to retry later, the rest are server-side.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid tenant id {0:?}: expected 1-64 characters of [A-Za-z0-9_.-], not '.' or '..'")]
    InvalidTenant(String),
    #[error("ingest is over its memory limit ({used} of {limit} bytes buffered); retry later")]
    Backpressure { used: u64, limit: u64 },
    /// One batch larger than the whole memtable limit: it can never fit, so a retry
    /// cannot help (unlike `Backpressure`); the client must send less at once.
    #[error(
        "the request's {rows} records take {bytes} bytes in memory, more than storage.memtable_limit ({limit} bytes) holds at all; send them in smaller requests"
    )]
    BatchTooLarge { rows: usize, bytes: u64, limit: u64 },
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
    /// A file batch does not hold what its layout promises (a missing column).
    #[error("file layout: {0}")]
    Layout(String),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("{key}: {message}")]
    Config { key: &'static str, message: String },
    #[error("storage is shutting down or has failed: {0}")]
    Closed(String),
    /// A querier's snapshot is older than this node's last commit: the rows between
    /// the two are in files it does not list and no longer in memory. It must read a
    /// newer snapshot and ask again.
    #[error(
        "stale snapshot: it has this node's rows up to WAL segment {after}, this node committed up to {committed}; read a newer snapshot"
    )]
    StaleSnapshot { after: u64, committed: u64 },
    /// An ingester a querier needs did not answer (its unflushed rows are unknown, so
    /// no answer is given rather than a wrong one).
    #[error("ingester {node} did not answer: {reason}")]
    Unreachable { node: String, reason: String },
    /// What this process cannot serve in its role (yet), and why.
    #[error("{0}")]
    Unsupported(String),
    /// Another process with this node id claimed a newer epoch in the manifest: this
    /// one must stop committing and acknowledging (`cluster.md`, "Epochs and fencing").
    #[error(
        "fenced: another process with node id {node_id:?} holds epoch {head} in the manifest (this one claimed {epoch}); this process stops writing"
    )]
    Fenced {
        node_id: String,
        epoch: u64,
        head: u64,
    },
    /// The disk is full: the write was not stored; retry once space is freed. Writes
    /// resume by themselves with the first one that fits.
    #[error(
        "disk full: the write was not stored; writes are refused until space is freed on the server (retry later)"
    )]
    DiskFull,
    /// Samples named series by id only that the series index does not hold: the
    /// caller must give those series' names and labels.
    #[error("samples of {count} series unknown to the series index came without their labels")]
    UndefinedSeries { count: usize },
}

/// Seconds a client is asked to wait before retrying a write refused for a full disk.
pub const DISK_FULL_RETRY_AFTER_SECS: u64 = 10;

/// `ENOSPC` and `EDQUOT` on Linux (and most Unixes): no space or no quota left.
const NO_SPACE: [i32; 2] = [28, 122];

/// Whether `e` is a full disk or an exceeded quota (ENOSPC, EDQUOT), for the writers
/// outside storage that must answer it as such.
pub fn is_no_space(e: &std::io::Error) -> bool {
    e.raw_os_error().is_some_and(|c| NO_SPACE.contains(&c))
}

impl StorageError {
    /// Whether this error, or any error it was caused by, is a full disk or quota.
    pub fn is_disk_full(&self) -> bool {
        if matches!(self, StorageError::DiskFull) {
            return true;
        }
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && is_no_space(io)
            {
                return true;
            }
            cause = e.source();
        }
        false
    }

    /// The message for a client: what failed and why, without the server's file
    /// paths (those stay in the server's log).
    pub fn client_message(&self) -> String {
        match self {
            StorageError::Io { source, .. } => format!("storage I/O error: {source}"),
            StorageError::CorruptWal { reason, .. } => format!("corrupt WAL segment: {reason}"),
            StorageError::CorruptManifest { reason, .. } => format!("corrupt manifest: {reason}"),
            StorageError::ObjectStore { .. } => {
                "object store error; see the server log".to_string()
            }
            StorageError::Index { reason, .. } => format!("index error: {reason}"),
            other => other.to_string(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
