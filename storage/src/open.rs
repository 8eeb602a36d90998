//! Opening the store: checking and quarantining files, loading the series index,
//! replaying the WAL after the manifest's checkpoint, starting the writer; and the
//! final flush and close.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use osprey_config::{ClusterConfig, StorageConfig};

use crate::batch_ids::BatchPeers;
use crate::files::blobs;
use crate::index::{fulltext, tag_index, trace_index};
use crate::lease;
use crate::manifest;
use crate::memtable::Memtable;
use crate::series::{exemplars, metadata};
use crate::wal::writer;
use crate::{
    Caches, Inner, SeriesStores, Signal, State, Storage, StorageError, StorageMetrics, files,
    quarantine, schema, series, wal,
};

impl Storage {
    /// Opens (or creates) the data directory and replays the WAL. Blocking: call it before
    /// serving, or from `spawn_blocking`.
    pub fn open(dir: &Path, config: StorageConfig) -> Result<Self, StorageError> {
        Self::open_with(dir, config, &ClusterConfig::default())
    }

    /// [`Storage::open`] committing where `cluster.manifest` says (`manifest/store.rs`),
    /// as `cluster.node_id`.
    pub fn open_with(
        dir: &Path,
        config: StorageConfig,
        cluster: &ClusterConfig,
    ) -> Result<Self, StorageError> {
        Self::open_inner(dir, config, cluster, Link::None)
    }

    /// [`Storage::open_with`] for a cluster's ingester: before its WAL's forwarded
    /// batches are replayed, `peers` says which of them another ingester stored in
    /// its place while it was down (`batch_ids.rs`); those are left out.
    pub fn open_ingester(
        dir: &Path,
        config: StorageConfig,
        cluster: &ClusterConfig,
        peers: Arc<dyn BatchPeers>,
    ) -> Result<Self, StorageError> {
        Self::open_inner(dir, config, cluster, Link::Ingester(peers))
    }

    /// Opens `dir` as this process's storage; as a follower of the bucket snapshots
    /// (`follow.rs`) with [`Link::Follower`]: the WAL in `dir` stays empty, nothing is
    /// committed, quarantined or deleted, and unflushed rows come from its source.
    pub(crate) fn open_inner(
        dir: &Path,
        config: StorageConfig,
        cluster: &ClusterConfig,
        link: Link,
    ) -> Result<Self, StorageError> {
        let follows = matches!(link, Link::Follower(_));
        let (source, peers) = match link {
            Link::None => (None, None),
            Link::Follower(s) | Link::Compactor(s) => (Some(s), None),
            Link::Ingester(p) => (None, Some(p)),
        };
        let max_exemplars = config.max_exemplars;
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(|e| StorageError::io(&wal_dir, e))?;
        let blobs = blobs::Blobs::open(dir, &config)?;
        let (manifest_store, mut manifest) = manifest::open_store(dir, &blobs, cluster, follows)?;
        let metrics = StorageMetrics::default();
        let bad = match follows {
            true => Vec::new(),
            false => quarantine::check_files(&blobs, &manifest),
        };
        if !bad.is_empty() {
            for (f, reason) in &bad {
                let q = quarantine::move_file(&blobs, &f.path)?;
                tracing::error!(
                    file = %f.path, %reason, moved_to = %q,
                    "corrupt data file quarantined; its rows are no longer served"
                );
            }
            metrics.add_quarantined(bad.len() as u64);
            manifest = manifest_store.commit(&manifest, &|m| {
                m.files
                    .retain(|f| !bad.iter().any(|(b, _)| b.path == f.path));
            })?;
        }
        if !follows {
            let owner = manifest_store.orphan_owner();
            let keep_dropped = manifest_store.read_elsewhere();
            manifest::remove_orphans(&blobs, &manifest, owner.as_deref(), keep_dropped)?;
        }

        let started = Instant::now();
        let series_index = series::SeriesIndex::default();
        for rel in &manifest.series_files {
            series_index.load_file(&blobs, rel)?;
        }
        // The head starts past each tenant's newest metrics file (those samples are
        // read from files), and takes what the WAL replays.
        let mut newest_file: std::collections::HashMap<String, i64> = Default::default();
        for f in manifest
            .files
            .iter()
            .filter(|f| f.signal == Signal::Metrics)
        {
            let t = newest_file.entry(f.tenant.clone()).or_insert(i64::MIN);
            *t = (*t).max(f.max_time_ns);
        }
        let head_budget = usize::try_from(config.memtable_limit.as_u64()).unwrap_or(usize::MAX);
        let head = series::head::Head::new(head_budget, newest_file);
        // Replay segments after the checkpoint; only the newest may have a torn tail.
        let mut active = Memtable::default();
        let segments = wal::list_segments(&wal_dir)?;
        let mut last_id = manifest.wal_checkpoint;
        let mut replayed = 0usize;
        let mut replayed_exemplars = Vec::new();
        let batch_ids = crate::batch_ids::BatchIds::default();
        for (i, &id) in segments.iter().enumerate() {
            if id <= manifest.wal_checkpoint {
                // Covered by files: a crash after the manifest commit left it behind.
                let p = wal::segment_path(&wal_dir, id);
                std::fs::remove_file(&p).map_err(|e| StorageError::io(&p, e))?;
                continue;
            }
            let is_last = i + 1 == segments.len();
            let path = wal::segment_path(&wal_dir, id);
            let wal::SegmentContents {
                records,
                exemplars: segment_exemplars,
                damage,
            } = wal::read_segment_all(&path)?;
            replayed_exemplars.extend(segment_exemplars);
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
            let elsewhere = held_elsewhere(peers.as_deref(), &records);
            let (away, here): (Vec<u128>, Vec<u128>) = records
                .iter()
                .filter_map(|r| r.batch_id)
                .partition(|b| elsewhere.contains(b));
            batch_ids.replayed(here, true);
            batch_ids.replayed(away, false);
            for r in records {
                if r.batch_id.is_some_and(|b| elsewhere.contains(&b)) {
                    continue;
                }
                if manifest.covers(&r.tenant, id) {
                    // That tenant's own flush already put it in files.
                    continue;
                }
                replayed += r.batch.num_rows();
                if r.signal == Signal::Metrics {
                    series_index.observe_series(&r.tenant, r.series, true);
                    series_index.observe(&r.tenant, &r.batch, true);
                    warn_unknown_series(&series_index, &r.tenant, &r.batch, id);
                }
                let batch = schema::to_stored(r.signal, &r.batch)?;
                if r.signal == Signal::Metrics {
                    head.insert(&r.tenant, &batch);
                }
                active.insert(r.tenant, r.signal, batch);
            }
            last_id = last_id.max(id);
        }
        if let Some(p) = &peers {
            // Batches another ingester stored in this one's place while it refused or
            // was down: a retry of one reaching this node now is not stored again.
            let both = batch_ids.mark_elsewhere(p.held_for_me());
            if both > 0 {
                tracing::error!(
                    batches = both,
                    "batches stored both here and by another ingester in this one's place"
                );
            }
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
        active.segment = segment.id;
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
            fenced: AtomicBool::new(false),
            file_prefix: manifest_store.file_prefix(),
            gc_delay: manifest_store
                .deletion_delay()
                .unwrap_or(crate::maintenance::GC_DELAY),
            unflushed: source,
            follows,
            manifest_store,
            disk_full: AtomicBool::new(false),
            flush_lock: tokio::sync::Mutex::new(()),
            flush_wanted: tokio::sync::Notify::new(),
            flush_forced: std::sync::atomic::AtomicBool::new(false),
            metrics,
            next_seq: AtomicU64::new(next_seq),
            graveyard: Mutex::new(Vec::new()),
            caches: Caches {
                footers: files::FooterCache::default(),
                runs: series::samples::RunIndexCache::default(),
                trace_index: trace_index::TraceIndexCache::default(),
                text_index,
                term_lists: crate::index::terms::TermBudget::new(index_budget / 4),
                tag_index: tag_index::TagIndexCache::new(index_budget),
            },
            series: SeriesStores {
                index: series_index,
                head,
                head_warm: Mutex::new(None),
                exemplars: load_exemplars(dir, max_exemplars, replayed_exemplars),
                metadata: metadata::MetadataStore::default(),
            },
            tail: Arc::default(),
            relays: Mutex::default(),
            batch_ids,
            // Only a cluster's ingester acknowledges writes others might take over.
            lease: match (peers.is_some(), cluster.own_ordinal()) {
                (true, Some(_)) => lease::Lease::claimed(cluster.poll_interval * 2),
                _ => lease::Lease::none(),
            },
        });
        let handle = writer::spawn(Arc::clone(&inner), rx, segment, wal_dir)
            .map_err(|e| StorageError::io(dir, e))?;
        if let Ok(mut w) = inner.writer.lock() {
            *w = Some(handle);
        }
        let storage = Storage { inner };
        if !storage.is_follower() {
            storage.migrate_sample_files()?;
        }
        if !storage.reads_ingesters() {
            storage.start_head_warm();
        }
        Ok(storage)
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

/// The ring saved by the last flush, then the exemplars of the WAL replayed over it.
fn load_exemplars(
    dir: &Path,
    capacity: usize,
    replayed: Vec<exemplars::Exemplar>,
) -> exemplars::ExemplarStore {
    let store = exemplars::ExemplarStore::new(capacity);
    let saved = exemplars::load(dir).unwrap_or_else(|e| {
        tracing::error!(error = %e, "exemplars saved by the last flush are not readable; starting without them");
        Vec::new()
    });
    // A crash between saving the ring and the manifest commit replays segments whose
    // exemplars the saved ring holds already.
    type Key = (String, String, i64, u64, String);
    let key = |e: &exemplars::Exemplar| -> Key {
        let labels = format!("{:?}{:?}", e.series_labels, e.labels);
        (
            e.tenant.clone(),
            e.metric.clone(),
            e.timestamp_ms,
            e.value.to_bits(),
            labels,
        )
    };
    let seen: std::collections::HashSet<Key> = saved.iter().map(key).collect();
    store.add(saved);
    store.add(replayed.into_iter().filter(|e| !seen.contains(&key(e))));
    store
}

/// A replayed samples record naming a series no series file or earlier record defines
/// (possible only after a quarantined segment lost its definition): its samples are
/// kept, but no selector can find them, so say so.
fn warn_unknown_series(
    index: &series::SeriesIndex,
    tenant: &str,
    batch: &arrow::array::RecordBatch,
    segment: u64,
) {
    use arrow::array::AsArray;
    let Some(ids) = batch
        .column_by_name("series_id")
        .and_then(|c| c.as_primitive_opt::<arrow::datatypes::UInt64Type>())
    else {
        return;
    };
    let unknown = index.unknown(tenant, ids.values());
    if !unknown.is_empty() {
        tracing::error!(
            tenant,
            segment,
            series = unknown.len(),
            "WAL: samples of series without a definition (lost with a damaged segment)"
        );
    }
}

/// How a process's storage is linked to the other nodes of a cluster when it opens.
pub(crate) enum Link {
    /// A single node, or a writer that needs nothing of the others.
    None,
    /// A querier: it follows the snapshots and reads unflushed rows from the source.
    Follower(Arc<dyn crate::follow::UnflushedSource>),
    /// An ingester: its peers say which forwarded batches they stored in its place.
    Ingester(Arc<dyn BatchPeers>),
    /// The compactor: a writer of its own commits that reads the others' rows like a
    /// querier (its rules query them), from the source.
    Compactor(Arc<dyn crate::follow::UnflushedSource>),
}

/// The forwarded batches among `records` that another ingester stored in this one's
/// place (asked once per segment; none without peers).
fn held_elsewhere(
    peers: Option<&dyn BatchPeers>,
    records: &[wal::WalRecord],
) -> std::collections::HashSet<u128> {
    let ids: Vec<u128> = records.iter().filter_map(|r| r.batch_id).collect();
    let (Some(peers), false) = (peers, ids.is_empty()) else {
        return Default::default();
    };
    let held: std::collections::HashSet<u128> = peers.held_elsewhere(&ids).into_iter().collect();
    if !held.is_empty() {
        tracing::info!(
            batches = held.len(),
            "WAL: leaving out forwarded batches another ingester stored while this one was down"
        );
    }
    held
}
