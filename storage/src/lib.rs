//! Osprey's storage engine: WAL → memtable → Parquet files published by a manifest.
//!
//! [`Storage`] is a short facade; its operations live by what they do: `open.rs`
//! (check files, replay the WAL, start the writer; close), `write.rs`, `read.rs`,
//! `flush.rs` (flush and publish), `maintenance.rs` (retention, compaction) and
//! `migrate.rs` (older on-disk layouts rewritten on open), `tail.rs` (the live-tail
//! feed, bounded in batches and bytes). The
//! formats are in folders: `wal/`, `files/` (Parquet files and their layout, owned in
//! both directions by `files/layout.rs`), `index/` (full-text, tags, trace ids) and
//! `series/`; each on-disk artifact has its page in `storage/docs/format/`.
//! A cluster (`storage/docs/format/cluster.md`): `snapshots.rs` is its commit point in
//! a bucket (numbered snapshots created once), `manifest/` the engine's manifest behind
//! a store (the local file or those snapshots), `unflushed.rs` a node's rows above a
//! checkpoint, `follow.rs` a querier's storage following the snapshots and reading the
//! ingesters' rows, `partial.rs` what a read does when an ingester does not answer.
//!
//! Write path: [`Storage::append`] encodes a record batch, hands it to the single WAL
//! writer thread (`wal/writer.rs`), which appends it to the current segment, fsyncs once per
//! group of concurrent writers, inserts the batch into the active memtable, and only then
//! acknowledges. So an acknowledged record is on disk *and* queryable.
//!
//! Flush path (`flush.rs`): [`Storage::flush`] asks the writer to rotate the WAL segment
//! and freeze the active memtable in the same step, writes one sorted Parquet file per
//! tenant and signal, commits a manifest whose WAL checkpoint is the frozen segment, and
//! then deletes the covered segments. Replay on open skips segments at or below the
//! checkpoint, so a record is never lost and never counted twice. A tenant's own flush
//! ([`Storage::flush_tenant`]) writes only that tenant's frozen rows and records them in
//! the manifest as flushed ahead of the checkpoint, so replay skips them too.
//!
//! Read path: [`Storage::snapshot`] returns the in-memory batches (active + frozen) and the
//! live files of a tenant's table under one lock, so a reader sees a record exactly once
//! whether or not a flush is under way.

pub mod batch_ids;
mod documents;
mod error;
pub mod faults;
pub mod files;
mod flush;
pub mod follow;
pub mod index;
mod lease;
mod maintenance;
mod manifest;
mod memtable;
mod metrics;
mod migrate;
mod open;
pub mod partial;
mod quarantine;
mod read;
pub mod schema;
pub mod series;
pub mod snapshots;
pub mod tail;
mod unflushed;
pub use unflushed::MemtableRows;
mod varint;
pub mod wal;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use osprey_config::StorageConfig;
use serde::{Deserialize, Serialize};

pub use error::{DISK_FULL_RETRY_AFTER_SECS, StorageError, is_no_space};
use files::blobs;
pub use files::time_column;
use index::{fulltext, tag_index, trace_index};
pub use maintenance::{CompactionPlan, CompactionStats, plan_compactions};
pub use manifest::FileMeta;
use manifest::Manifest;
use memtable::{Frozen, Memtable};
pub use metrics::StorageMetrics;
pub use read::SampleReader;
use series::{exemplars, metadata};
use wal::writer::Cmd;

pub(crate) use flush::publish;

/// The three kinds of telemetry, each stored in its own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    Logs,
    Spans,
    Metrics,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Logs, Signal::Spans, Signal::Metrics];

    /// The SQL table name.
    pub fn table(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Spans => "spans",
            Signal::Metrics => "metrics",
        }
    }

    fn code(self) -> u8 {
        match self {
            Signal::Logs => 1,
            Signal::Spans => 2,
            Signal::Metrics => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Signal::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.table())
    }
}

/// Tenant ids become directory names, so they are restricted (`osprey_auth::Tenant`
/// owns the rule; storage checks it again on every write).
pub fn validate_tenant(tenant: &str) -> Result<(), StorageError> {
    if osprey_auth::tenant::is_valid(tenant) {
        Ok(())
    } else {
        Err(StorageError::InvalidTenant(
            tenant.chars().take(80).collect(),
        ))
    }
}

/// What a query reads of one tenant's table at one instant, in the signal's stored
/// schema (`schema::stored_schema`).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Acknowledged records not yet in files.
    pub batches: Vec<RecordBatch>,
    /// Each batch's (min, max) time, in the order of `batches`.
    pub bounds: Vec<(i64, i64)>,
    /// Live Parquet files (paths relative to the store, see `blobs.rs`).
    pub files: Vec<FileMeta>,
}

/// What one flush did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlushStats {
    pub files: usize,
    pub rows: u64,
    pub bytes: u64,
}

pub(crate) struct State {
    active: Memtable,
    frozen: Vec<Arc<Frozen>>,
    manifest: Manifest,
}

pub(crate) struct Inner {
    dir: PathBuf,
    /// Where data files live (see `blobs.rs`).
    blobs: blobs::Blobs,
    config: StorageConfig,
    state: RwLock<State>,
    tx: Mutex<Option<std::sync::mpsc::Sender<Cmd>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Bytes handed to the writer but not yet in a memtable.
    in_flight: AtomicU64,
    failed: AtomicBool,
    /// A newer process with this node id took over the manifest (`StorageError::Fenced`):
    /// nothing more is acknowledged or committed.
    fenced: AtomicBool,
    /// Where manifests are committed (`manifest/store.rs`).
    manifest_store: Box<dyn manifest::ManifestStore>,
    /// What new file names start with (`ManifestStore::file_prefix`).
    file_prefix: String,
    /// How long a file that left the manifest stays readable before it is deleted:
    /// `maintenance::GC_DELAY`, or `cluster.deletion_delay` in a shared store.
    gc_delay: Duration,
    /// The link to the ingesters' memory (`follow.rs`) of a process that reads rows
    /// it does not hold (a querier; the compactor, for its rules); `None` when this
    /// process holds the rows it serves.
    unflushed: Option<Arc<dyn follow::UnflushedSource>>,
    /// This process follows the bucket snapshots and never commits (a querier).
    follows: bool,
    /// The last WAL write found the disk full (writes refused until one fits again).
    disk_full: AtomicBool,
    flush_lock: tokio::sync::Mutex<()>,
    flush_wanted: tokio::sync::Notify,
    /// Set by [`Storage::request_flush`]: the next flusher tick flushes whatever is
    /// buffered, however small.
    flush_forced: std::sync::atomic::AtomicBool,
    metrics: StorageMetrics,
    /// Next file sequence number (shared by flush and compaction).
    next_seq: AtomicU64,
    /// Files no longer in the manifest, deleted once no query can still be reading them.
    graveyard: Mutex<Vec<(Instant, String)>>,
    caches: Caches,
    series: SeriesStores,
    /// Acknowledged logs batches, as they become visible, for live tail (`None` once
    /// shutdown ended the tails).
    tail: Arc<tail::TailFeed>,
    /// A querier's live tails, each relayed from the ingesters into a feed of its own.
    relays: Mutex<Vec<std::sync::Weak<tail::TailFeed>>>,
    /// The forwarded batches stored recently (`batch_ids.rs`).
    batch_ids: batch_ids::BatchIds,
    /// A cluster ingester's lease on its node id (`lease.rs`).
    lease: lease::Lease,
}

/// What reads keep of files between queries (each bounded).
pub(crate) struct Caches {
    trace_index: trace_index::TraceIndexCache,
    text_index: fulltext::TextIndexCache,
    /// What the opened full-text indexes' body term lists may hold (`index/terms.rs`).
    term_lists: crate::index::terms::TermBudget,
    tag_index: tag_index::TagIndexCache,
    /// Parsed footers of recently read files (`read_rows`).
    footers: files::FooterCache,
    /// Run indexes of recently read samples files (`series::samples`).
    runs: series::samples::RunIndexCache,
}

impl Inner {
    /// Files and the caches a samples read goes through.
    pub(crate) fn sample_files(&self) -> series::samples::FileAccess<'_> {
        series::samples::FileAccess {
            blobs: &self.blobs,
            footers: Some(&self.caches.footers),
            runs: &self.caches.runs,
        }
    }

    /// Marks this process fenced when `e` says a newer process took its node id: every
    /// write is refused from then on, and the binary exits.
    pub(crate) fn note_fenced(&self, e: &StorageError) {
        if matches!(e, StorageError::Fenced { .. }) && !self.fenced.swap(true, Ordering::SeqCst) {
            tracing::error!(error = %e, "fenced: refusing every write from now on");
        }
    }

    /// The name (without directory or extension) of a new data or series file.
    pub(crate) fn new_file_name(&self) -> String {
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        format!("{}{seq:012}", self.file_prefix)
    }
}

/// The metrics table's series and what is kept beside them in memory.
pub(crate) struct SeriesStores {
    index: series::SeriesIndex,
    head: series::head::Head,
    /// The thread loading recent samples of files into the head after open.
    head_warm: Mutex<Option<std::thread::JoinHandle<()>>>,
    exemplars: exemplars::ExemplarStore,
    metadata: metadata::MetadataStore,
}

/// A tenant's acknowledged logs batch (stored schema), for live tail.
pub type TailBatch = Arc<(String, RecordBatch)>;

pub use tail::{TAIL_BUFFER, TAIL_BUFFER_BYTES, TailReceiver};

/// Handle to the storage engine; cheap to clone.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

impl Storage {
    /// The storage's own metrics, to be registered by the binary.
    pub fn metrics(&self) -> &StorageMetrics {
        &self.inner.metrics
    }

    pub fn config(&self) -> &StorageConfig {
        &self.inner.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// False once a WAL write or fsync failed (the process must be restarted), the
    /// storage was closed, or it was fenced.
    pub fn is_healthy(&self) -> bool {
        !self.inner.failed.load(Ordering::SeqCst) && !self.is_fenced()
    }

    /// Whether a newer process with this node id has taken over the manifest: this one
    /// acknowledges nothing more and should exit.
    /// Whether this process may acknowledge writes under its lease now (`lease.rs`;
    /// always on a single node); the error says why not.
    pub fn lease_check(&self) -> Result<(), StorageError> {
        self.inner.lease.check()
    }

    pub fn is_fenced(&self) -> bool {
        self.inner.fenced.load(Ordering::SeqCst)
    }

    /// How long `signal`'s records are kept.
    pub fn retention(&self, signal: Signal) -> Duration {
        let c = &self.inner.config;
        match signal {
            Signal::Logs => c.retention_logs,
            Signal::Spans => c.retention_spans,
            Signal::Metrics => c.retention_metrics,
        }
    }

    /// The object store data files live in; queries register it under
    /// [`blobs::STORE_URL`].
    pub fn object_store(&self) -> Arc<dyn object_store::ObjectStore> {
        self.inner.blobs.store()
    }

    /// The URL of a data file (`FileMeta::path`) in that store, for DataFusion.
    pub fn object_url(&self, rel: &str) -> String {
        self.inner.blobs.url(rel)
    }
}

pub(crate) fn partition_nanos(config: &StorageConfig) -> i64 {
    i64::try_from(config.partition.as_nanos())
        .unwrap_or(i64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests;
