//! Osprey's storage engine: WAL → memtable → Parquet files published by a manifest.
//!
//! Write path: [`Storage::append`] encodes a record batch, hands it to the single WAL
//! writer thread ([`writer`]), which appends it to the current segment, fsyncs once per
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

mod error;
pub mod files;
mod flush;
pub mod index;
mod maintenance;
mod manifest;
mod memtable;
mod metrics;
mod quarantine;
pub mod schema;
pub mod series;
pub mod wal;

// The paths other crates (and this one's modules) have used since before the folders.
use files::pruning;
pub use files::{blobs, decimal, layout};
use index::cache as index_cache;
pub use index::{fulltext, tag_index, trace_index};
pub use series::{exemplars, metadata, samples};
use wal::writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use osprey_config::StorageConfig;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

pub use error::{DISK_FULL_RETRY_AFTER_SECS, StorageError};
pub use files::time_column;
pub use maintenance::{CompactionPlan, CompactionStats, plan_compactions};
pub use manifest::FileMeta;
use manifest::Manifest;
use memtable::{Frozen, Memtable};
pub use metrics::StorageMetrics;
use writer::Cmd;

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
    /// The last WAL write found the disk full (writes refused until one fits again).
    disk_full: AtomicBool,
    flush_lock: tokio::sync::Mutex<()>,
    flush_wanted: tokio::sync::Notify,
    metrics: StorageMetrics,
    /// Next file sequence number (shared by flush and compaction).
    next_seq: AtomicU64,
    /// Files no longer in the manifest, deleted once no query can still be reading them.
    graveyard: Mutex<Vec<(Instant, String)>>,
    trace_index: trace_index::TraceIndexCache,
    text_index: fulltext::TextIndexCache,
    tag_index: tag_index::TagIndexCache,
    /// Parsed footers of recently read files (`read_rows`).
    footers: files::FooterCache,
    series: series::SeriesIndex,
    exemplars: exemplars::ExemplarStore,
    metadata: metadata::MetadataStore,
    /// Acknowledged logs batches, as they become visible, for live tail (`None` once
    /// shutdown ended the tails).
    tail: Mutex<Option<tokio::sync::broadcast::Sender<TailBatch>>>,
}

/// A tenant's acknowledged logs batch (stored schema), for live tail.
pub type TailBatch = Arc<(String, RecordBatch)>;

/// Batches a live-tail subscriber may fall behind by before it skips some.
pub const TAIL_BUFFER: usize = 1024;

/// Handle to the storage engine; cheap to clone.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

impl Storage {
    /// Opens (or creates) the data directory and replays the WAL. Blocking: call it before
    /// serving, or from `spawn_blocking`.
    pub fn open(dir: &Path, config: StorageConfig) -> Result<Self, StorageError> {
        let max_exemplars = config.max_exemplars;
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(|e| StorageError::io(&wal_dir, e))?;
        let blobs = blobs::Blobs::open(dir, &config)?;
        let mut manifest = Manifest::load(dir)?;
        let metrics = StorageMetrics::default();
        let bad = quarantine::check_files(&blobs, &manifest);
        if !bad.is_empty() {
            for (f, reason) in &bad {
                let q = quarantine::move_file(&blobs, &f.path)?;
                tracing::error!(
                    file = %f.path, %reason, moved_to = %q,
                    "corrupt data file quarantined; its rows are no longer served"
                );
            }
            metrics.add_quarantined(bad.len() as u64);
            manifest
                .files
                .retain(|f| !bad.iter().any(|(b, _)| b.path == f.path));
            manifest.commit(dir)?;
        }
        manifest::remove_orphans(&blobs, &manifest)?;

        let started = Instant::now();
        let series_index = series::SeriesIndex::default();
        for rel in &manifest.series_files {
            series_index.load_file(&blobs, rel)?;
        }
        // Replay segments after the checkpoint; only the newest may have a torn tail.
        let mut active = Memtable::default();
        let segments = wal::list_segments(&wal_dir)?;
        let mut last_id = manifest.wal_checkpoint;
        let mut replayed = 0usize;
        for (i, &id) in segments.iter().enumerate() {
            if id <= manifest.wal_checkpoint {
                // Covered by files: a crash after the manifest commit left it behind.
                let p = wal::segment_path(&wal_dir, id);
                std::fs::remove_file(&p).map_err(|e| StorageError::io(&p, e))?;
                continue;
            }
            let is_last = i + 1 == segments.len();
            let path = wal::segment_path(&wal_dir, id);
            let (records, damage) = wal::read_segment(&path)?;
            match damage {
                None => {}
                Some(d) if is_last => {
                    // A crash mid-append: that record was never acknowledged.
                    tracing::warn!(
                        segment = %path.display(), offset = d.offset, reason = %d.reason,
                        "WAL: truncating torn tail"
                    );
                    wal::truncate(&path, d.offset)?;
                }
                Some(d) => {
                    // Corruption in the middle of the log: keep what is readable, keep a
                    // copy of the segment for inspection, and say so loudly.
                    let q = quarantine::copy(dir, &path)?;
                    tracing::error!(
                        segment = %path.display(), offset = d.offset, reason = %d.reason,
                        copy = %q.display(),
                        "WAL: corrupt segment; records after the damage are lost, segment quarantined"
                    );
                    metrics.add_quarantined(1);
                }
            }
            for r in records {
                if manifest.covers(&r.tenant, id) {
                    // That tenant's own flush already put it in files.
                    continue;
                }
                replayed += r.batch.num_rows();
                if r.signal == Signal::Metrics {
                    series_index.observe(&r.tenant, &r.batch, true);
                }
                let batch = schema::to_stored(r.signal, &r.batch)?;
                active.insert(r.tenant, r.signal, batch);
            }
            last_id = last_id.max(id);
        }
        tracing::info!(
            segments = segments.len(),
            rows = replayed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "WAL replayed"
        );
        metrics.set_memtable_bytes(active.bytes);
        metrics.set_files(&manifest.files);

        let segment = wal::SegmentWriter::create(&wal_dir, last_id + 1)?;
        let next_seq = manifest.next_file_seq;
        let (tx, rx) = std::sync::mpsc::channel();
        let index_budget = usize::try_from(config.text_index_cache.as_u64()).unwrap_or(usize::MAX);
        let text_index = fulltext::TextIndexCache::new(index_budget);
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            blobs,
            config,
            state: RwLock::new(State {
                active,
                frozen: Vec::new(),
                manifest,
            }),
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(None),
            in_flight: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            disk_full: AtomicBool::new(false),
            flush_lock: tokio::sync::Mutex::new(()),
            flush_wanted: tokio::sync::Notify::new(),
            metrics,
            next_seq: AtomicU64::new(next_seq),
            graveyard: Mutex::new(Vec::new()),
            footers: files::FooterCache::default(),
            trace_index: trace_index::TraceIndexCache::default(),
            text_index,
            tag_index: tag_index::TagIndexCache::new(index_budget),
            series: series_index,
            exemplars: exemplars::ExemplarStore::new(max_exemplars),
            metadata: metadata::MetadataStore::default(),
            tail: Mutex::new(Some(tokio::sync::broadcast::channel(TAIL_BUFFER).0)),
        });
        let handle = writer::spawn(Arc::clone(&inner), rx, segment, wal_dir)
            .map_err(|e| StorageError::io(dir, e))?;
        if let Ok(mut w) = inner.writer.lock() {
            *w = Some(handle);
        }
        Ok(Storage { inner })
    }

    /// The series index of the metrics table.
    pub fn series(&self) -> &series::SeriesIndex {
        &self.inner.series
    }

    /// Metric metadata (type, help, unit) for `/api/v1/metadata`.
    pub fn metadata(&self) -> &metadata::MetadataStore {
        &self.inner.metadata
    }

    /// Exemplars: a bounded in-memory ring (`storage.max_exemplars`).
    pub fn exemplars(&self) -> &exemplars::ExemplarStore {
        &self.inner.exemplars
    }

    /// The storage's own metrics, to be registered by the binary.
    pub fn metrics(&self) -> &StorageMetrics {
        &self.inner.metrics
    }

    /// The samples of `ids` (sorted, distinct) in `start_ns..=end_ns` from a metrics
    /// snapshot (blocking: call it off the async workers).
    pub fn read_samples(
        &self,
        snap: &Snapshot,
        ids: &[u64],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<samples::SamplesById, StorageError> {
        samples::read(
            &self.inner.blobs,
            Some(&self.inner.footers),
            snap,
            ids,
            start_ns,
            end_ns,
        )
    }

    pub fn config(&self) -> &StorageConfig {
        &self.inner.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// True while the disk is full: the last WAL write was refused for lack of space.
    /// Queries go on; writes resume by themselves with the first that fits.
    pub fn is_disk_full(&self) -> bool {
        self.inner.disk_full.load(Ordering::SeqCst)
    }

    /// False once a WAL write or fsync failed (the process must be restarted) or the
    /// storage was closed.
    pub fn is_healthy(&self) -> bool {
        !self.inner.failed.load(Ordering::SeqCst)
    }

    /// Appends a batch durably. Returns once the batch is fsynced (if configured) and
    /// visible to queries.
    pub async fn append(
        &self,
        tenant: &str,
        signal: Signal,
        batch: RecordBatch,
    ) -> Result<(), StorageError> {
        validate_tenant(tenant)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if batch.schema() != schema::schema(signal) {
            return Err(StorageError::Arrow(arrow::error::ArrowError::SchemaError(
                format!("batch does not have the {signal} schema"),
            )));
        }
        let bytes = batch.get_array_memory_size() as u64;
        let limit = self.inner.config.memtable_limit.as_u64();
        if bytes > limit {
            return Err(StorageError::BatchTooLarge {
                rows: batch.num_rows(),
                bytes,
                limit,
            });
        }
        self.check_room(bytes)?;
        let record = wal::encode(tenant, signal, &batch)?;
        let (ack, done) = oneshot::channel();
        self.inner.in_flight.fetch_add(bytes, Ordering::SeqCst);
        let sent = self.send(Cmd::Append {
            record,
            tenant: tenant.to_string(),
            signal,
            batch,
            bytes,
            ack,
        });
        if let Err(e) = sent {
            self.inner.in_flight.fetch_sub(bytes, Ordering::SeqCst);
            return Err(e);
        }
        done.await
            .map_err(|_| StorageError::Closed("WAL writer stopped".into()))?
    }

    fn send(&self, cmd: Cmd) -> Result<(), StorageError> {
        if self.inner.failed.load(Ordering::SeqCst) {
            return Err(StorageError::Closed("an earlier WAL write failed".into()));
        }
        let guard = self
            .inner
            .tx
            .lock()
            .map_err(|_| StorageError::Closed("writer lock poisoned".into()))?;
        let tx = guard
            .as_ref()
            .ok_or_else(|| StorageError::Closed("storage closed".into()))?;
        tx.send(cmd)
            .map_err(|_| StorageError::Closed("WAL writer stopped".into()))
    }

    /// Whether `bytes` more would fit under `memtable_limit` now (memtables plus writes
    /// in flight); `Backpressure` if not. Ingest asks before reading and decoding a
    /// request, so an overloaded server refuses at once.
    pub fn check_room(&self, bytes: u64) -> Result<(), StorageError> {
        let limit = self.inner.config.memtable_limit.as_u64();
        let used = self.buffered_bytes() + self.inner.in_flight.load(Ordering::SeqCst);
        if used.saturating_add(bytes) > limit {
            self.inner.flush_wanted.notify_one();
            return Err(StorageError::Backpressure { used, limit });
        }
        Ok(())
    }

    /// Bytes held in memtables (active + being flushed).
    pub fn buffered_bytes(&self) -> u64 {
        self.inner
            .state
            .read()
            .map(|s| s.active.bytes + s.frozen.iter().map(|f| f.bytes).sum::<u64>())
            .unwrap_or(0)
    }

    /// Bytes of `tenant`'s rows held in memtables (active + being flushed).
    pub fn buffered_bytes_of(&self, tenant: &str) -> u64 {
        let Ok(s) = self.inner.state.read() else {
            return 0;
        };
        let of = |tables: &std::collections::HashMap<memtable::TableKey, Vec<RecordBatch>>| -> u64 {
            tables
                .iter()
                .filter(|((t, _), _)| t == tenant)
                .flat_map(|(_, batches)| batches)
                .map(|b| b.get_array_memory_size() as u64)
                .sum()
        };
        of(&s.active.tables) + s.frozen.iter().map(|f| of(&f.tables)).sum::<u64>()
    }

    /// Everything a query needs to read `tenant`'s `signal` table, consistently.
    pub fn snapshot(&self, tenant: &str, signal: Signal) -> Snapshot {
        let Ok(state) = self.inner.state.read() else {
            return Snapshot::default();
        };
        let key = (tenant.to_string(), signal);
        let mut batches = Vec::new();
        for f in &state.frozen {
            if let Some(b) = f.tables.get(&key) {
                batches.extend(b.iter().cloned());
            }
        }
        if let Some(b) = state.active.tables.get(&key) {
            batches.extend(b.iter().cloned());
        }
        let files = state
            .manifest
            .files
            .iter()
            .filter(|f| f.tenant == tenant && f.signal == signal)
            .cloned()
            .collect();
        Snapshot { batches, files }
    }

    /// Like [`Storage::snapshot`] of the spans table, but with only the files whose
    /// trace-id index may hold `trace_id` (32 hex digits): a trace lookup opens those
    /// files and no others.
    pub fn trace_snapshot(&self, tenant: &str, trace_id: &str) -> Snapshot {
        self.traces_snapshot(tenant, &[trace_id])
    }

    /// [`Storage::trace_snapshot`] for several traces: the files that may hold any.
    pub fn traces_snapshot(&self, tenant: &str, trace_ids: &[&str]) -> Snapshot {
        let mut snap = self.snapshot(tenant, Signal::Spans);
        let ids: Vec<_> = trace_ids
            .iter()
            .filter_map(|t| trace_index::parse_trace_id(t))
            .collect();
        if ids.len() == trace_ids.len() {
            let (cache, blobs) = (&self.inner.trace_index, &self.inner.blobs);
            snap.files.retain(|f| {
                !f.trace_index || ids.iter().any(|id| cache.may_contain(blobs, &f.path, id))
            });
        }
        snap
    }

    /// The full-text index of a live logs file whose metadata says it has one (read
    /// once, then served from memory). `None` when it cannot be read: that is logged
    /// and counted (`osprey_text_index_errors_total`), and the caller reads the file.
    pub fn text_index(&self, file: &FileMeta) -> Option<Arc<fulltext::TextIndex>> {
        if !file.text_index {
            return None;
        }
        match self.inner.text_index.get(&file.path, || {
            fulltext::TextIndex::open(&self.inner.blobs, &file.path)
        }) {
            Ok(i) => Some(i),
            Err(e) => {
                tracing::warn!(file = %file.path, error = %e, "full-text index unreadable; searching the file without it");
                self.inner.metrics.add_text_index_error();
                None
            }
        }
    }

    /// Reads `columns` (all when `None`) of a live file, only the rows numbered in `rows`
    /// (ascending) when given.
    pub fn read_rows(
        &self,
        file: &FileMeta,
        columns: Option<&[&str]>,
        rows: Option<&[u32]>,
    ) -> Result<Vec<RecordBatch>, StorageError> {
        let footers = Some(&self.inner.footers);
        files::read_rows(&self.inner.blobs, footers, &file.path, columns, rows)
    }

    /// Like [`Storage::read_rows`], with string and string-map columns read as
    /// dictionary arrays (`Dictionary(Int32, Utf8)`): no string is copied per row.
    pub fn read_rows_dictionary(
        &self,
        file: &FileMeta,
        columns: &[&str],
        rows: Option<&[u32]>,
    ) -> Result<Vec<RecordBatch>, StorageError> {
        let footers = Some(&self.inner.footers);
        files::read_rows_as(
            &self.inner.blobs,
            footers,
            &file.path,
            Some(columns),
            rows,
            columns,
        )
    }

    /// What a spans file's tag index says of `key=value` (span or resource attribute).
    /// `None` when the file has no index or it cannot be read (logged and counted):
    /// the caller checks the attribute maps instead.
    pub fn tag_rows(&self, file: &FileMeta, key: &str, value: &str) -> Option<tag_index::Lookup> {
        if !file.tag_index {
            return None;
        }
        match tag_index::cached(&self.inner.tag_index, &self.inner.blobs, &file.path) {
            Ok(ix) => Some(ix.lookup(key, value)),
            Err(e) => {
                tracing::warn!(file = %file.path, error = %e, "tag index unreadable; checking attribute maps instead");
                self.inner.metrics.add_text_index_error();
                None
            }
        }
    }

    /// Row ranges of `file` (ascending) whose pages of the string column `column` may
    /// hold `value`, from the page index: in files sorted by that column, its rows and
    /// a page or two around them.
    pub fn string_eq_ranges(
        &self,
        file: &FileMeta,
        column: &str,
        value: &str,
    ) -> Result<Vec<std::ops::Range<usize>>, StorageError> {
        pruning::string_eq(
            &self.inner.blobs,
            Some(&self.inner.footers),
            &file.path,
            column,
            value,
        )
    }

    /// `columns` of the rows of `file` in `ranges` (ascending, not overlapping), the
    /// string ones as dictionary arrays.
    pub fn read_row_ranges_dictionary(
        &self,
        file: &FileMeta,
        columns: &[&str],
        ranges: &[std::ops::Range<usize>],
    ) -> Result<Vec<RecordBatch>, StorageError> {
        files::read_row_ranges(
            &self.inner.blobs,
            Some(&self.inner.footers),
            &file.path,
            Some(columns),
            ranges,
            columns,
        )
    }

    /// Logs batches as they are acknowledged (and visible to queries), every tenant's.
    /// A subscriber more than [`TAIL_BUFFER`] batches behind skips the oldest and is told
    /// how many (`RecvError::Lagged`).
    pub fn subscribe_logs(&self) -> tokio::sync::broadcast::Receiver<TailBatch> {
        let sender = self.inner.tail.lock().ok().and_then(|t| t.clone());
        match sender {
            Some(tx) => tx.subscribe(),
            // Shutting down: a subscription that ends at once.
            None => tokio::sync::broadcast::channel(1).1,
        }
    }

    /// Ends every live tail (their streams finish), so that a graceful shutdown does not
    /// wait for clients that would listen forever.
    pub fn end_tails(&self) {
        if let Ok(mut t) = self.inner.tail.lock() {
            t.take();
        }
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

    /// Live files of every tenant and signal (for status pages).
    pub fn files(&self) -> Vec<FileMeta> {
        self.inner
            .state
            .read()
            .map(|s| s.manifest.files.clone())
            .unwrap_or_default()
    }

    /// Final flush and WAL close. Acknowledged data is durable whether or not this runs;
    /// it only makes the next start faster.
    pub async fn close(&self) -> Result<(), StorageError> {
        let flushed = self.flush().await;
        if let Ok(mut tx) = self.inner.tx.lock() {
            tx.take();
        }
        let handle = self.inner.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
        flushed.map(|_| ())
    }
}

pub(crate) fn partition_nanos(config: &StorageConfig) -> i64 {
    i64::try_from(config.partition.as_nanos())
        .unwrap_or(i64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests;
