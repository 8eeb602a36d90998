//! The read path: snapshots (memtable batches + live files under one lock), rows of
//! files through their footers and page indexes, the sidecar indexes (full-text, tags,
//! trace ids) through their caches, samples by series.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};

use crate::files;
use crate::files::pruning;
use crate::index::{fulltext, tag_index, trace_index};
use crate::series::{self, SeriesSamples, exemplars, head, metadata, samples};
use crate::{FileMeta, Signal, Snapshot, Storage, StorageError};

/// Trace ids parsed, and the row ranges of the row groups that may hold one.
type TraceRowGroups = (Vec<trace_index::TraceId>, Vec<Range<usize>>);

impl Storage {
    /// The series index of the metrics table.
    pub fn series(&self) -> &series::SeriesIndex {
        &self.inner.series.index
    }

    /// Metric metadata (type, help, unit) for `/api/v1/metadata`.
    pub fn metadata(&self) -> &metadata::MetadataStore {
        &self.inner.series.metadata
    }

    /// Exemplars: a bounded in-memory ring (`storage.max_exemplars`).
    pub fn exemplars(&self) -> &exemplars::ExemplarStore {
        &self.inner.series.exemplars
    }

    /// A reader of `tenant`'s samples: recent ones from the head, older ones from a
    /// snapshot of the memtable and files, taken on first need.
    pub fn sample_reader(&self, tenant: &str) -> SampleReader<'_> {
        self.sample_reader_with(tenant, None)
    }

    /// [`Storage::sample_reader`] reading older samples from `snap` when given (a
    /// follower's, from [`Storage::sync_metrics`]).
    pub fn sample_reader_with(&self, tenant: &str, snap: Option<Snapshot>) -> SampleReader<'_> {
        let once = std::sync::OnceLock::new();
        if let Some(s) = snap {
            let _ = once.set(s);
        }
        SampleReader {
            storage: self,
            tenant: tenant.to_string(),
            snap: once,
        }
    }

    /// Bytes the head holds (recent samples in memory).
    pub fn head_bytes(&self) -> usize {
        self.inner.series.head.bytes()
    }

    /// `tenant`'s head: bytes held, and whether recent samples are still being loaded
    /// from files after open (queries read those from files meanwhile).
    pub fn head_status(&self, tenant: &str) -> (usize, bool) {
        let (bytes, warming) = self.inner.series.head.tenant_status(tenant);
        let running = self
            .inner
            .series
            .head_warm
            .lock()
            .is_ok_and(|h| h.as_ref().is_some_and(|h| !h.is_finished()));
        (bytes, warming || running)
    }

    /// Loads, on a background thread, each tenant's samples of the last
    /// [`head::WINDOW_NS`] from its files into the head (after a restart the head
    /// holds only what the WAL replayed); queries read files until it is done.
    pub(crate) fn start_head_warm(&self) {
        let storage = self.clone();
        let spawned = std::thread::Builder::new()
            .name("osprey-head-warm".into())
            .spawn(move || storage.warm_head());
        match spawned {
            Ok(h) => {
                if let Ok(mut w) = self.inner.series.head_warm.lock() {
                    *w = Some(h);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot start loading recent samples into the head")
            }
        }
    }

    /// Waits until the head holds the recent samples of files (see
    /// [`Storage::start_head_warm`]); for tests and benchmarks.
    pub fn wait_head_warm(&self) {
        let h = self
            .inner
            .series
            .head_warm
            .lock()
            .ok()
            .and_then(|mut h| h.take());
        if let Some(h) = h {
            let _ = h.join();
        }
    }

    fn warm_head(&self) {
        let started = std::time::Instant::now();
        let from = head::now_ns().saturating_sub(head::WINDOW_NS);
        let tenants: std::collections::BTreeSet<String> = match self.inner.state.read() {
            Ok(st) => st
                .manifest
                .files
                .iter()
                .filter(|f| f.signal == Signal::Metrics && f.max_time_ns >= from)
                .map(|f| f.tenant.clone())
                .collect(),
            Err(_) => return,
        };
        for tenant in tenants {
            let head = &self.inner.series.head;
            let Some(until) = head.begin_warm(&tenant, from) else {
                continue;
            };
            let snap = self.snapshot(&tenant, Signal::Metrics);
            let mut ids: Vec<u64> = self
                .series()
                .select(&tenant, &[])
                .iter()
                .map(|s| s.id)
                .collect();
            ids.sort_unstable();
            // A few thousand series at a time: what is staged is already compressed.
            let loaded = ids
                .chunks(4096)
                .try_fold(head::Staged::default(), |mut staged, part| {
                    let found = samples::read(
                        self.inner.sample_files(),
                        &snap,
                        part,
                        from,
                        until.saturating_sub(1),
                    )?;
                    for (id, samples) in part.iter().zip(found) {
                        if !samples.is_empty() {
                            staged.add(*id, samples);
                        }
                    }
                    Ok::<_, StorageError>(staged)
                });
            let staged = match loaded {
                Ok(staged) => staged,
                Err(e) => {
                    tracing::warn!(%tenant, error = %e, "head: recent samples not loaded; queries read them from files");
                    // Ends the warm-up without lowering the cutoff.
                    head.finish_warm(&tenant, from, i64::MIN, head::Staged::default());
                    continue;
                }
            };
            let n = staged.len();
            head.finish_warm(&tenant, from, until, staged);
            tracing::info!(%tenant, samples = n, elapsed_ms = started.elapsed().as_millis() as u64, "head: recent samples loaded from files");
        }
    }

    /// Everything a query needs to read `tenant`'s `signal` table, consistently.
    pub fn snapshot(&self, tenant: &str, signal: Signal) -> Snapshot {
        let Ok(state) = self.inner.state.read() else {
            return Snapshot::default();
        };
        let key = (tenant.to_string(), signal);
        let (mut batches, mut bounds) = (Vec::new(), Vec::new());
        let tables = state
            .frozen
            .iter()
            .map(|f| (&f.tables, &f.bounds))
            .chain([(&state.active.tables, &state.active.bounds)]);
        for (t, b) in tables {
            if let Some(t) = t.get(&key) {
                batches.extend(t.iter().cloned());
                // Bounds are pushed with their batch; unknown (whole time) if not.
                let known = b.get(&key).filter(|b| b.len() == t.len());
                match known {
                    Some(b) => bounds.extend(b.iter().copied()),
                    None => bounds.extend(t.iter().map(|_| (i64::MIN, i64::MAX))),
                }
            }
        }
        let files = state
            .manifest
            .files
            .iter()
            .filter(|f| f.tenant == tenant && f.signal == signal)
            .cloned()
            .collect();
        Snapshot {
            batches,
            bounds,
            files,
        }
    }

    /// Like [`Storage::snapshot`] of the spans table, but with only the files whose
    /// trace-id index may hold `trace_id` (32 hex digits): a trace lookup opens those
    /// files and no others.
    pub fn trace_snapshot(&self, tenant: &str, trace_id: &str) -> Result<Snapshot, StorageError> {
        self.traces_snapshot(tenant, &[trace_id])
    }

    /// [`Storage::trace_snapshot`] for several traces: the files that may hold any.
    pub fn traces_snapshot(
        &self,
        tenant: &str,
        trace_ids: &[&str],
    ) -> Result<Snapshot, StorageError> {
        let mut snap = self.read_snapshot(tenant, Signal::Spans)?;
        let ids: Vec<_> = trace_ids
            .iter()
            .filter_map(|t| trace_index::parse_trace_id(t))
            .collect();
        if ids.len() == trace_ids.len() {
            let (cache, blobs) = (&self.inner.caches.trace_index, &self.inner.blobs);
            snap.files.retain(|f| {
                !f.trace_index || ids.iter().any(|id| cache.may_contain(blobs, &f.path, id))
            });
        }
        Ok(snap)
    }

    /// The full-text index of a live logs file whose metadata says it has one (read
    /// once, then served from memory). `None` when it cannot be read: that is logged
    /// and counted (`osprey_text_index_errors_total`), and the caller reads the file.
    pub fn text_index(&self, file: &FileMeta) -> Option<Arc<fulltext::TextIndex>> {
        if !file.text_index {
            return None;
        }
        match self.inner.caches.text_index.get(&file.path, || {
            fulltext::TextIndex::open(&self.inner.blobs, &file.path)
                .map(|i| i.with_term_budget(self.inner.caches.term_lists.clone()))
        }) {
            Ok(i) => Some(i),
            Err(e) => {
                tracing::warn!(file = %file.path, error = %e, "full-text index unreadable; searching the file without it");
                self.inner.metrics.add_text_index_error();
                None
            }
        }
    }

    /// The stream volumes a logs file's footer holds (`files/volumes.rs`); `None` for a
    /// file without them (older, or too many streams) or whose footer cannot be read.
    pub fn stream_volumes(&self, file: &FileMeta) -> Option<Vec<files::volumes::StreamVolume>> {
        if file.signal != Signal::Logs {
            return None;
        }
        let footers = Some(&self.inner.caches.footers);
        let meta = files::footer(&self.inner.blobs, footers, &file.path).ok()?;
        let kv = meta.metadata().file_metadata().key_value_metadata()?;
        let v = kv.iter().find(|k| k.key == files::volumes::KEY)?;
        files::volumes::parse(v.value.as_deref()?)
    }

    /// Reads `columns` (all when `None`) of a live file, only the rows numbered in `rows`
    /// (ascending) when given.
    pub fn read_rows(
        &self,
        file: &FileMeta,
        columns: Option<&[&str]>,
        rows: Option<&[u32]>,
    ) -> Result<Vec<RecordBatch>, StorageError> {
        let footers = Some(&self.inner.caches.footers);
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
        let footers = Some(&self.inner.caches.footers);
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
        match tag_index::cached(&self.inner.caches.tag_index, &self.inner.blobs, &file.path) {
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
            Some(&self.inner.caches.footers),
            &file.path,
            column,
            value,
        )
    }

    /// The row ranges of `file`'s row groups whose trace-id bloom filters may hold one
    /// of `ids` (ascending; the whole file when it has no filters, none when no group
    /// may). `None` when an id is empty (no bound).
    pub fn trace_id_row_ranges(
        &self,
        file: &FileMeta,
        ids: &[String],
    ) -> Result<Option<Vec<std::ops::Range<usize>>>, StorageError> {
        Ok(self.trace_row_groups(file, ids)?.map(|(_, ranges)| ranges))
    }

    /// The ids parsed, and the row ranges of the row groups of `file` whose trace-id
    /// bloom filters do not rule them all out (the whole file when it has none).
    /// `None` when an id is empty (no bound).
    fn trace_row_groups(
        &self,
        file: &FileMeta,
        ids: &[String],
    ) -> Result<Option<TraceRowGroups>, StorageError> {
        if ids.iter().any(String::is_empty) {
            return Ok(None);
        }
        // Ids that are not 16 bytes of hex are never stored (`layout::hex_to_binary`).
        let wanted: Vec<trace_index::TraceId> = ids
            .iter()
            .filter_map(|id| trace_index::parse_trace_id(id))
            .collect();
        if wanted.is_empty() {
            return Ok(Some((wanted, Vec::new())));
        }
        let footers = Some(&self.inner.caches.footers);
        let values: Vec<&[u8]> = wanted.iter().map(|w| w.as_slice()).collect();
        let ranges =
            pruning::bloom_row_ranges(&self.inner.blobs, footers, &file.path, "trace_id", &values)?
                // No filters (an older file): its whole row range.
                .unwrap_or_else(|| std::iter::once(0..file.rows as usize).collect());
        Ok(Some((wanted, ranges)))
    }

    /// The rows of `file` whose `trace_id` is one of `ids` (hex), ascending: the row
    /// groups the trace-id bloom filters rule out are skipped, and only the
    /// `trace_id` column of the others is read. `None` when an id is empty (no
    /// bound: every row without a trace id matches it).
    pub fn rows_with_trace_ids(
        &self,
        file: &FileMeta,
        ids: &[String],
    ) -> Result<Option<Vec<u32>>, StorageError> {
        let Some((wanted, ranges)) = self.trace_row_groups(file, ids)? else {
            return Ok(None);
        };
        if ranges.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let footers = Some(&self.inner.caches.footers);
        let blobs = &self.inner.blobs;
        let batches = files::read_row_ranges(
            blobs,
            footers,
            &file.path,
            Some(&["trace_id"]),
            &ranges,
            &[],
        )?;
        let mut rows = ranges.iter().flat_map(|r| r.clone());
        let mut out = Vec::new();
        for b in &batches {
            let Some(col) = b.column_by_name("trace_id") else {
                continue;
            };
            let ids = col.as_fixed_size_binary_opt();
            for i in 0..b.num_rows() {
                let Some(row) = rows.next() else { break };
                let hit = ids.is_some_and(|a| {
                    !a.is_null(i) && wanted.iter().any(|w| a.value(i) == w.as_slice())
                });
                if hit {
                    out.push(row as u32);
                }
            }
        }
        Ok(Some(out))
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
            Some(&self.inner.caches.footers),
            &file.path,
            Some(columns),
            ranges,
            columns,
        )
    }

    /// Live files of every tenant and signal (for status pages).
    pub fn files(&self) -> Vec<FileMeta> {
        self.inner
            .state
            .read()
            .map(|s| s.manifest.files.clone())
            .unwrap_or_default()
    }
}

/// Reads samples of one tenant's series for a query (see [`Storage::sample_reader`]).
pub struct SampleReader<'a> {
    storage: &'a Storage,
    tenant: String,
    snap: std::sync::OnceLock<Snapshot>,
}

impl SampleReader<'_> {
    /// The memtable batches and files for samples before the head's cutoff, taken once.
    fn older(&self) -> Result<&Snapshot, StorageError> {
        if let Some(s) = self.snap.get() {
            return Ok(s);
        }
        let s = self.storage.read_snapshot(&self.tenant, Signal::Metrics)?;
        Ok(self.snap.get_or_init(|| s))
    }

    /// Whether the head answers for recent samples: a process reading the ingesters
    /// holds nothing there (their memory is in its snapshot), so all is read from the
    /// snapshot.
    fn uses_head(&self) -> bool {
        !self.storage.reads_ingesters()
    }

    /// Which of `ids` (sorted, distinct) have a sample in `start_ns..=end_ns`: the head
    /// answers for its part of the range, the memtable and files for the rest.
    pub fn ids_with_samples(
        &self,
        ids: &[u64],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<std::collections::HashSet<u64>, StorageError> {
        let inner = &self.storage.inner;
        let mut found = std::collections::HashSet::new();
        let cutoff = match self.uses_head() {
            true => {
                inner
                    .series
                    .head
                    .ids_with_samples(&self.tenant, ids, start_ns, end_ns, &mut found)
            }
            false => i64::MAX,
        };
        if start_ns < cutoff {
            let rest: Vec<u64> = ids
                .iter()
                .copied()
                .filter(|id| !found.contains(id))
                .collect();
            if !rest.is_empty() {
                found.extend(samples::ids_with_samples(
                    inner.sample_files(),
                    self.older()?,
                    &rest,
                    start_ns,
                    end_ns.min(cutoff.saturating_sub(1)),
                )?);
            }
        }
        Ok(found)
    }

    /// The samples of `ids` (sorted, distinct) in `start_ns..=end_ns`: one entry per
    /// id, in the order of `ids` (empty for a series without samples there), each
    /// series' samples in no particular order (blocking: call it off the async
    /// workers). Samples at or after the head's cutoff come from the head alone; the
    /// memtable and files are read only for a range that starts before it, and their
    /// samples come first.
    pub fn read(
        &self,
        ids: &[u64],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<SeriesSamples>, StorageError> {
        let inner = &self.storage.inner;
        let mut out = vec![SeriesSamples::default(); ids.len()];
        let cutoff = match self.uses_head() {
            true => inner
                .series
                .head
                .read(&self.tenant, ids, start_ns, end_ns, &mut out)?,
            false => i64::MAX,
        };
        if start_ns < cutoff {
            let older = samples::read(
                inner.sample_files(),
                self.older()?,
                ids,
                start_ns,
                end_ns.min(cutoff.saturating_sub(1)),
            )?;
            for (dst, older) in out.iter_mut().zip(older) {
                if !older.is_empty() {
                    dst.prepend(older);
                }
            }
        }
        Ok(out)
    }
}
