//! Flush: frozen memtables become Parquet files published by one manifest commit.
//!
//! - [`Storage::flush`] (size, age, shutdown, benchmarks): the writer rotates the WAL
//!   segment and freezes the active memtable in one step; every frozen memtable is
//!   written and the manifest's WAL checkpoint moves to its segment.
//! - [`Storage::flush_tenant`] (`POST /api/v1/admin/flush`, which acts on the asking
//!   tenant only): after the same rotation, only that tenant's tables of each frozen
//!   memtable are written. The checkpoint cannot move (other tenants' rows of those
//!   segments are still only in the WAL), so the manifest records the tenant as
//!   *flushed ahead* up to the segment; replay skips that tenant's records there. The
//!   rest stays frozen, marked partial, and is flushed when it would have been anyway
//!   (its age or the total size), so one tenant's flush never flushes another's rows.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::manifest::{FlushedAhead, Manifest};
use crate::memtable::Frozen;
use crate::wal::writer::Cmd;
use crate::{FlushStats, Inner, Storage, StorageError, files, partition_nanos, series, wal};

impl Storage {
    /// Flushes everything acknowledged so far into Parquet files and commits them.
    pub async fn flush(&self) -> Result<FlushStats, StorageError> {
        let _guard = self.inner.flush_lock.lock().await;
        self.flush_locked().await
    }

    async fn flush_locked(&self) -> Result<FlushStats, StorageError> {
        self.flush_rotated(false).await
    }

    /// Flushes what is buffered and moves the WAL checkpoint past every segment
    /// written so far, even when no row is buffered (an ingester whose replay left out
    /// batches another ingester holds: its segments must go before anyone forgets).
    pub async fn flush_wal(&self) -> Result<FlushStats, StorageError> {
        let _guard = self.inner.flush_lock.lock().await;
        self.flush_rotated(true).await
    }

    async fn flush_rotated(&self, even_empty: bool) -> Result<FlushStats, StorageError> {
        self.inner.flush_forced.store(false, Ordering::SeqCst);
        if self.is_follower() {
            // A querier holds no rows of its own and commits nothing.
            return Ok(FlushStats::default());
        }
        self.rotate(even_empty).await?;
        let mut stats = FlushStats::default();
        for f in self.frozen()? {
            let inner = Arc::clone(&self.inner);
            let s = tokio::task::spawn_blocking(move || flush_frozen(&inner, &f))
                .await
                .map_err(|e| StorageError::Closed(format!("flush task: {e}")))??;
            stats.add(&s);
        }
        Ok(stats)
    }

    /// Flushes `tenant`'s acknowledged rows only (see the module doc). Another
    /// tenant's rows stay in memory until their own flush is due.
    pub async fn flush_tenant(&self, tenant: &str) -> Result<FlushStats, StorageError> {
        let _guard = self.inner.flush_lock.lock().await;
        if self.is_follower() || self.buffered_bytes_of(tenant) == 0 {
            return Ok(FlushStats::default());
        }
        self.rotate(false).await?;
        let mut stats = FlushStats::default();
        for (i, f) in self.frozen()?.into_iter().enumerate() {
            if !f.tables.keys().any(|(t, _)| t == tenant) {
                continue;
            }
            let inner = Arc::clone(&self.inner);
            let tenant = tenant.to_string();
            let s = tokio::task::spawn_blocking(move || {
                // Only the oldest frozen memtable may move the WAL checkpoint: an
                // older one still needs its segments.
                if i == 0
                    && f.tables.keys().all(|(t, _)| *t == tenant)
                    && f.series.iter().all(|(t, _)| *t == tenant)
                {
                    flush_frozen(&inner, &f)
                } else {
                    flush_frozen_tenant(&inner, &f, &tenant)
                }
            })
            .await
            .map_err(|e| StorageError::Closed(format!("flush task: {e}")))??;
            stats.add(&s);
        }
        Ok(stats)
    }

    /// Rotates the WAL segment and freezes the active memtable (the writer does both
    /// in one step).
    async fn rotate(&self, even_empty: bool) -> Result<(), StorageError> {
        let (ack, done) = oneshot::channel();
        self.send(Cmd::Rotate { even_empty, ack })?;
        done.await
            .map_err(|_| StorageError::Closed("WAL writer stopped".into()))?
    }

    pub(crate) fn frozen(&self) -> Result<Vec<Arc<Frozen>>, StorageError> {
        self.inner
            .state
            .read()
            .map(|s| s.frozen.clone())
            .map_err(|_| StorageError::Closed("state lock poisoned".into()))
    }

    /// Runs until `shutdown` resolves: flushes when a memtable is over its size or age.
    pub async fn run_flusher(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let tick = Duration::from_millis(500);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.inner.flush_wanted.notified() => {}
                _ = tokio::time::sleep(tick) => {}
            }
            if !self.flush_due() {
                continue;
            }
            let _guard = self.inner.flush_lock.lock().await;
            // Checked again under the lock: a tenant's flush may have run meanwhile.
            if self.flush_due()
                && let Err(e) = self.flush_locked().await
            {
                tracing::error!(error = %e, "background flush failed; will retry");
            }
        }
    }

    /// Asks the background flusher to flush what is buffered now, whatever its size
    /// or age (ingest does when the process nears `server.memory_limit`).
    pub fn request_flush(&self) {
        self.inner.flush_forced.store(true, Ordering::SeqCst);
        self.inner.flush_wanted.notify_one();
    }

    pub(crate) fn flush_due(&self) -> bool {
        if self.inner.flush_forced.load(Ordering::SeqCst) && self.buffered_bytes() > 0 {
            return true;
        }
        let Ok(s) = self.inner.state.read() else {
            return false;
        };
        let cfg = &self.inner.config;
        let aged = |t: Option<Instant>| t.is_some_and(|t| t.elapsed() >= cfg.flush_interval);
        let bytes = s.active.bytes + s.frozen.iter().map(|f| f.bytes).sum::<u64>();
        s.frozen.iter().any(|f| !f.partial || aged(f.oldest))
            || bytes >= cfg.flush_size.as_u64()
            || aged(s.active.oldest)
    }
}

impl FlushStats {
    fn add(&mut self, other: &FlushStats) {
        self.files += other.files;
        self.rows += other.rows;
        self.bytes += other.bytes;
    }
}

/// The files and series files written for some tables of a frozen memtable.
struct Written {
    stats: FlushStats,
    files: Vec<crate::FileMeta>,
    series_files: Vec<String>,
}

/// Writes the tables and series of `frozen` that `keep` selects (by tenant).
fn write_frozen(
    inner: &Inner,
    frozen: &Frozen,
    keep: impl Fn(&str) -> bool,
) -> Result<Written, StorageError> {
    let mut out = Written {
        stats: FlushStats::default(),
        files: Vec::new(),
        series_files: Vec::new(),
    };
    let by_key: std::collections::BTreeMap<_, _> =
        frozen.tables.iter().filter(|((t, _), _)| keep(t)).collect();
    let partition_ns = partition_nanos(&inner.config);
    for ((tenant, signal), batches) in by_key {
        for (partition, part) in files::split_by_partition(*signal, batches, partition_ns)? {
            let name = inner.new_file_name();
            let file = files::NewFile {
                name: &name,
                tenant,
                signal: *signal,
                partition,
            };
            let meta = files::write_new(
                &inner.blobs,
                file,
                &part,
                files::WriteOptions::flush(&inner.config),
                &inner.series.index.file_order(tenant),
            )?;
            out.stats.files += 1;
            out.stats.rows += meta.rows;
            out.stats.bytes += meta.bytes;
            out.files.push(meta);
        }
    }
    for (tenant, series) in frozen.series.iter().filter(|(t, _)| keep(t)) {
        let rel = format!("series/{tenant}/{}.series", inner.new_file_name());
        series::write_file(&inner.blobs, &rel, tenant, series)?;
        out.series_files.push(rel);
    }
    Ok(out)
}

/// Writes one frozen memtable's files, commits the manifest, drops the WAL it covers.
pub(crate) fn flush_frozen(inner: &Inner, frozen: &Frozen) -> Result<FlushStats, StorageError> {
    let started = Instant::now();
    let w = write_frozen(inner, frozen, |_| true)?;
    // The segments this flush deletes may hold exemplars: the ring is saved first.
    inner.series.exemplars.save_if_changed(&inner.dir)?;
    crate::faults::point("flush.after_files")?;
    let manifest = publish(inner, FrozenChange::Drop(frozen.segment), |m| {
        m.files.extend(w.files.iter().cloned());
        m.series_files.extend(w.series_files.iter().cloned());
        m.wal_checkpoint = m.wal_checkpoint.max(frozen.segment);
        let checkpoint = m.wal_checkpoint;
        m.flushed_ahead.retain(|a| a.segment > checkpoint);
    })?;
    crate::faults::point("flush.after_manifest")?;
    let wal_dir = inner.dir.join("wal");
    for id in wal::list_segments(&wal_dir)? {
        if id <= manifest.wal_checkpoint {
            let p = wal::segment_path(&wal_dir, id);
            std::fs::remove_file(&p).map_err(|e| StorageError::io(&p, e))?;
        }
    }
    inner.metrics.observe_flush(started.elapsed());
    tracing::debug!(
        files = w.stats.files,
        rows = w.stats.rows,
        bytes = w.stats.bytes,
        "flushed"
    );
    Ok(w.stats)
}

/// Writes `tenant`'s tables of a frozen memtable that also holds other tenants' rows;
/// the rest stays frozen (partial) and the WAL stays as it is.
fn flush_frozen_tenant(
    inner: &Inner,
    frozen: &Frozen,
    tenant: &str,
) -> Result<FlushStats, StorageError> {
    let started = Instant::now();
    let w = write_frozen(inner, frozen, |t| t == tenant)?;
    let rest = Arc::new(frozen.without_tenant(tenant));
    publish(inner, FrozenChange::Replace(rest), |m| {
        m.files.extend(w.files.iter().cloned());
        m.series_files.extend(w.series_files.iter().cloned());
        match m.flushed_ahead.iter_mut().find(|a| a.tenant == tenant) {
            Some(a) => a.segment = a.segment.max(frozen.segment),
            None => m.flushed_ahead.push(FlushedAhead {
                tenant: tenant.to_string(),
                segment: frozen.segment,
            }),
        }
    })?;
    inner.metrics.observe_flush(started.elapsed());
    tracing::debug!(
        tenant,
        files = w.stats.files,
        rows = w.stats.rows,
        "flushed a tenant"
    );
    Ok(w.stats)
}

/// What a manifest commit does to the frozen memtables queries see.
pub(crate) enum FrozenChange {
    /// Nothing (compaction, retention).
    None,
    /// The frozen memtable of this segment is now wholly in files.
    Drop(u64),
    /// Part of it is in files; this is what stays in memory (same segment).
    Replace(Arc<Frozen>),
}

/// Applies `change` to the current manifest, commits it durably, and only then makes it
/// the state queries see (applying `frozen` to the frozen memtables in the same step,
/// so a reader sees each row once). Callers hold `flush_lock`, so there is one
/// committer at a time.
pub(crate) fn publish(
    inner: &Inner,
    frozen: FrozenChange,
    change: impl Fn(&mut Manifest),
) -> Result<Manifest, StorageError> {
    let poisoned = || StorageError::Closed("state lock poisoned".into());
    let base = inner.state.read().map_err(|_| poisoned())?.manifest.clone();
    let next_seq = inner.next_seq.load(Ordering::SeqCst);
    let started = Instant::now();
    let committed = inner.manifest_store.commit(&base, &|m| {
        change(m);
        m.next_file_seq = m.next_file_seq.max(next_seq);
    });
    inner.metrics.observe_manifest_commit(started.elapsed());
    let manifest = match committed {
        Ok(m) => {
            // The head held this process's epoch: its lease holds on.
            inner.lease.confirm();
            m
        }
        Err(e) => {
            inner.note_fenced(&e);
            return Err(e);
        }
    };
    {
        let mut state = inner.state.write().map_err(|_| poisoned())?;
        state.manifest = manifest.clone();
        match frozen {
            FrozenChange::None => {}
            FrozenChange::Drop(seg) => state.frozen.retain(|f| f.segment != seg),
            FrozenChange::Replace(rest) => {
                for f in state.frozen.iter_mut() {
                    if f.segment == rest.segment {
                        *f = Arc::clone(&rest);
                    }
                }
            }
        }
        inner.metrics.set_memtable_bytes(
            state.active.bytes + state.frozen.iter().map(|f| f.bytes).sum::<u64>(),
        );
    }
    inner.metrics.set_files(&manifest.files);
    Ok(manifest)
}
