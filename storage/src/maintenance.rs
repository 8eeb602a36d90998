//! Background maintenance: retention (drop expired partitions whole), compaction (a
//! pure planner and an executor that merges small files of one partition), and garbage
//! collection of files that left the manifest.
//!
//! Every change is a manifest commit (see `publish`), made under `flush_lock` so that
//! flush, retention and compaction never commit over each other. Files that leave the
//! manifest are not deleted at once: a query may hold a snapshot that still lists
//! them, so they wait `GC_DELAY` in the graveyard (`cluster.deletion_delay` in a
//! shared store, where queriers hold snapshots too). In a cluster, where other
//! processes read the files, the manifest also records them as `dropped` with the
//! time, so that a writer that restarts (and lost its graveyard) leaves them for that
//! delay too. After a crash, files the manifest does not list (and, in a cluster,
//! does not record as dropped) are removed on open; in a shared store the compactor
//! also sweeps unlisted objects of any writer once they are older than that delay
//! and were not dropped within it
//! ([`Storage::sweep_orphans`]). A writer sharing the store reads the newest
//! snapshot before each round, so it plans on what the others committed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::manifest::{FileMeta, Manifest};
use crate::{Inner, Signal, Storage, StorageError, files, partition_nanos, publish};

/// How long a file that left the manifest stays on disk for queries still reading it.
pub(crate) const GC_DELAY: Duration = Duration::from_secs(120);
/// Most files merged in one compaction.
const MAX_INPUTS: usize = 32;
/// Fewest small files worth a background merge (a full compaction merges any two).
const MIN_INPUTS: usize = 4;

/// One merge: these files of one partition become one.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionPlan {
    pub tenant: String,
    pub signal: Signal,
    pub partition_ns: i64,
    pub inputs: Vec<FileMeta>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct CompactionStats {
    pub merges: usize,
    pub input_files: usize,
    pub input_bytes: u64,
    pub output_bytes: u64,
}

/// Rows of `f` as counted against `compaction_max_rows`, which bounds a merge's memory
/// (it holds its inputs): log records and spans count one each (about 1 KB decoded); a
/// metric sample (series id, time, value: 24 bytes) counts 1/16.
fn weighted_rows(f: &FileMeta) -> u64 {
    match f.signal {
        Signal::Metrics => f.rows.div_ceil(16),
        Signal::Logs | Signal::Spans => f.rows,
    }
}

/// Picks merges: within each partition, files under half the target size, oldest first,
/// in groups of at least `min_inputs` whose total stays within the target size and
/// `max_rows` rows ([`weighted_rows`]; a merge holds its inputs in memory).
pub fn plan_compactions(
    files: &[FileMeta],
    target_bytes: u64,
    min_inputs: usize,
    max_rows: u64,
) -> Vec<CompactionPlan> {
    let mut groups: BTreeMap<(&str, Signal, i64), Vec<&FileMeta>> = BTreeMap::new();
    for f in files.iter().filter(|f| f.bytes < target_bytes / 2) {
        groups
            .entry((f.tenant.as_str(), f.signal, f.partition_ns))
            .or_default()
            .push(f);
    }
    let mut plans = Vec::new();
    for ((tenant, signal, partition_ns), mut small) in groups {
        small.sort_by(|a, b| a.path.cmp(&b.path));
        let mut current: Vec<FileMeta> = Vec::new();
        let mut bytes = 0u64;
        let mut rows = 0u64;
        let mut emit = |current: &mut Vec<FileMeta>| {
            if current.len() >= min_inputs.max(2) {
                plans.push(CompactionPlan {
                    tenant: tenant.to_string(),
                    signal,
                    partition_ns,
                    inputs: std::mem::take(current),
                });
            } else {
                current.clear();
            }
        };
        for f in small {
            if !current.is_empty()
                && (bytes + f.bytes > target_bytes
                    || rows + weighted_rows(f) > max_rows
                    || current.len() >= MAX_INPUTS)
            {
                emit(&mut current);
                bytes = 0;
                rows = 0;
            }
            bytes += f.bytes;
            rows += weighted_rows(f);
            current.push(f.clone());
        }
        emit(&mut current);
    }
    plans
}

/// Partitions whose whole span lies before `now - retention` of their signal.
fn expired(inner: &Inner, manifest: &Manifest, now_ns: i64) -> Vec<FileMeta> {
    let cfg = &inner.config;
    let part = partition_nanos(cfg);
    manifest
        .files
        .iter()
        .filter(|f| {
            let retention = match f.signal {
                Signal::Logs => cfg.retention_logs,
                Signal::Spans => cfg.retention_spans,
                Signal::Metrics => cfg.retention_metrics,
            };
            let cutoff =
                now_ns.saturating_sub(i64::try_from(retention.as_nanos()).unwrap_or(i64::MAX));
            f.partition_ns.saturating_add(part) <= cutoff
        })
        .cloned()
        .collect()
}

fn bury(inner: &Inner, files: &[FileMeta]) {
    let due = Instant::now() + inner.gc_delay;
    if let Ok(mut g) = inner.graveyard.lock() {
        for f in files {
            inner.caches.trace_index.forget(&f.path);
            inner.caches.text_index.forget(&f.path);
            inner.caches.tag_index.forget(&f.path);
            // Sidecars first, the data file last.
            g.extend(f.objects().into_iter().rev().map(|p| (due, p)));
        }
    }
}

/// In a store other processes read, records `files` in the manifest as dropped, so
/// that they stay readable for `cluster.deletion_delay` even when this process
/// restarts and loses its graveyard (`remove_orphans`, `sweep_orphans`).
fn record_dropped(inner: &Inner, m: &mut Manifest, files: &[FileMeta]) {
    if inner.manifest_store.read_elsewhere() {
        m.record_dropped(files, inner.gc_delay);
    }
}

fn same_file(a: &FileMeta, b: &FileMeta) -> bool {
    a.path == b.path
}

impl Storage {
    /// Drops every partition past its signal's retention. Returns the files dropped.
    pub async fn apply_retention(&self, now_ns: i64) -> Result<usize, StorageError> {
        let _guard = self.inner.flush_lock.lock().await;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let manifest = inner
                .state
                .read()
                .map_err(|_| StorageError::Closed("state lock poisoned".into()))?
                .manifest
                .clone();
            // The head keeps no sample that retention removes from files.
            let keep_ns =
                i64::try_from(inner.config.retention_metrics.as_nanos()).unwrap_or(i64::MAX);
            inner
                .series
                .head
                .forget_before(now_ns.saturating_sub(keep_ns));
            let dead = expired(&inner, &manifest, now_ns);
            if dead.is_empty() {
                return Ok(0);
            }
            publish(&inner, crate::flush::FrozenChange::None, |m| {
                m.files.retain(|f| !dead.iter().any(|d| same_file(d, f)));
                record_dropped(&inner, m, &dead);
            })?;
            crate::faults::point("retention.after_manifest")?;
            for f in &dead {
                tracing::info!(
                    tenant = %f.tenant, signal = %f.signal, file = %f.path,
                    "retention: dropping expired partition file"
                );
            }
            bury(&inner, &dead);
            Ok(dead.len())
        })
        .await
        .map_err(|e| StorageError::Closed(format!("retention task: {e}")))?
    }

    /// Runs every merge the planner proposes now (of `tenant`'s files only, when given).
    pub async fn compact(&self, tenant: Option<&str>) -> Result<CompactionStats, StorageError> {
        self.compact_with(MIN_INPUTS, tenant).await
    }

    /// Merges every group of two or more small files of a partition (operators and
    /// benchmarks use it to measure the steady state); `tenant`'s only, when given.
    pub async fn compact_full(
        &self,
        tenant: Option<&str>,
    ) -> Result<CompactionStats, StorageError> {
        self.compact_with(2, tenant).await
    }

    async fn compact_with(
        &self,
        min_inputs: usize,
        tenant: Option<&str>,
    ) -> Result<CompactionStats, StorageError> {
        // Plan on what every writer sharing the store has committed.
        self.refresh_head_locked().await?;
        let mut files = self.files();
        if let Some(t) = tenant {
            files.retain(|f| f.tenant == t);
        }
        let plans = plan_compactions(
            &files,
            self.inner.config.compaction_target_size.as_u64(),
            min_inputs,
            self.inner.config.compaction_max_rows,
        );
        let mut stats = CompactionStats::default();
        for plan in plans {
            let inner = Arc::clone(&self.inner);
            let p = plan.clone();
            // Merge without holding the lock: flushes go on meanwhile.
            let merged = tokio::task::spawn_blocking(move || merge(&inner, &p))
                .await
                .map_err(|e| StorageError::Closed(format!("compaction task: {e}")))??;
            crate::faults::point("compact.after_merge")?;
            let _guard = self.inner.flush_lock.lock().await;
            let live = self.files();
            if !plan
                .inputs
                .iter()
                .all(|i| live.iter().any(|f| same_file(f, i)))
            {
                // Retention took some input meanwhile; the output is an orphan.
                bury(&self.inner, std::slice::from_ref(&merged));
                continue;
            }
            let inner = Arc::clone(&self.inner);
            let inputs = plan.inputs.clone();
            let out = merged.clone();
            tokio::task::spawn_blocking(move || {
                publish(&inner, crate::flush::FrozenChange::None, |m| {
                    // Applied to a newer head, the inputs may be gone (another
                    // compactor's): then the output stays unlisted, an orphan.
                    if inputs
                        .iter()
                        .all(|i| m.files.iter().any(|f| same_file(i, f)))
                    {
                        m.files.retain(|f| !inputs.iter().any(|i| same_file(i, f)));
                        m.files.push(out.clone());
                        record_dropped(&inner, m, &inputs);
                    }
                })
            })
            .await
            .map_err(|e| StorageError::Closed(format!("compaction task: {e}")))??;
            crate::faults::point("compact.after_manifest")?;
            bury(&self.inner, &plan.inputs);
            stats.merges += 1;
            stats.input_files += plan.inputs.len();
            stats.input_bytes += plan.inputs.iter().map(|f| f.bytes).sum::<u64>();
            stats.output_bytes += merged.bytes;
        }
        Ok(stats)
    }

    /// Deletes the objects under `tables/` and `series/` that the newest snapshot does
    /// not list, that it does not record as dropped within `grace`, that are not
    /// waiting in the graveyard, and that are older than `grace` (uploads whose commit
    /// never came, files a crashed writer dropped): the compactor's sweep of a shared
    /// store. Returns how many it deleted.
    pub async fn sweep_orphans(&self, grace: Duration) -> Result<usize, StorageError> {
        let _guard = self.inner.flush_lock.lock().await;
        let s = self.clone();
        tokio::task::spawn_blocking(move || {
            s.refresh_head()?;
            let live = match s.inner.state.read() {
                Ok(st) => {
                    let mut live = crate::manifest::live_paths(&st.manifest);
                    let dropped = st.manifest.recently_dropped(grace);
                    live.extend(dropped.into_iter().map(str::to_string));
                    live
                }
                Err(_) => return Err(StorageError::Closed("state lock poisoned".into())),
            };
            let buried: std::collections::HashSet<String> = match s.inner.graveyard.lock() {
                Ok(g) => g.iter().map(|(_, p)| p.clone()).collect(),
                Err(_) => return Err(StorageError::Closed("graveyard lock poisoned".into())),
            };
            let age = chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::MAX);
            let cutoff = chrono::Utc::now()
                .checked_sub_signed(age)
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
            s.inner.manifest_store.prune_snapshots();
            let mut swept = 0;
            for prefix in ["tables", "series"] {
                for (p, modified) in s.inner.blobs.list_with_times(prefix)? {
                    if live.contains(&p) || buried.contains(&p) || modified >= cutoff {
                        continue;
                    }
                    tracing::info!(file = %p, "sweeping an object no snapshot lists");
                    if s.inner.blobs.delete(&p)? {
                        swept += 1;
                    }
                }
            }
            Ok(swept)
        })
        .await
        .map_err(|e| StorageError::Closed(format!("sweep task: {e}")))?
    }

    /// Deletes graveyard files whose grace period is over (all of them with `force`).
    pub fn collect_garbage(&self, force: bool) -> usize {
        let now = Instant::now();
        let due: Vec<_> = match self.inner.graveyard.lock() {
            Ok(mut g) => {
                let (due, keep): (Vec<_>, Vec<_>) =
                    g.drain(..).partition(|(t, _)| force || *t <= now);
                *g = keep;
                due
            }
            Err(_) => return 0,
        };
        let mut n = 0;
        for (_, p) in due {
            self.inner.caches.footers.forget(&p);
            self.inner.caches.runs.forget(&p);
            match self.inner.blobs.delete(&p) {
                Ok(true) => n += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(file = %p, error = %e, "cannot delete old file"),
            }
        }
        n
    }

    /// Retention, compaction and garbage collection every `maintenance_interval`
    /// until `shutdown` resolves.
    pub async fn run_maintenance(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let every = self.inner.config.maintenance_interval;
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(every) => {}
            }
            if !self.is_healthy() {
                continue;
            }
            if let Err(e) = self.refresh_head_locked().await {
                tracing::warn!(error = %e, "reading the manifest head failed; will retry");
                continue;
            }
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
            if let Err(e) = self.apply_retention(now).await {
                tracing::error!(error = %e, "retention failed; will retry");
            }
            match self.compact(None).await {
                Ok(s) if s.merges > 0 => tracing::info!(
                    merges = s.merges,
                    input_files = s.input_files,
                    input_bytes = s.input_bytes,
                    output_bytes = s.output_bytes,
                    "compacted"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "compaction failed; will retry"),
            }
            self.collect_garbage(false);
        }
    }
}

/// Reads the inputs, merges them into one sorted file (not yet live).
fn merge(inner: &Inner, plan: &CompactionPlan) -> Result<FileMeta, StorageError> {
    let name = inner.new_file_name();
    if plan.signal == Signal::Metrics {
        // Runs of one series from several files become one run, series by series,
        // a slice of the series at a time, written as they are merged.
        let order = inner.series.index.file_order(&plan.tenant);
        let rel = files::file_path(&plan.tenant, plan.signal, plan.partition_ns, &name);
        let opts = files::WriteOptions::compaction(&inner.config);
        let inputs: Vec<&str> = plan.inputs.iter().map(|f| f.path.as_str()).collect();
        let footers = Some(&inner.caches.footers);
        let mut meta = files::write_runs(&inner.blobs, &rel, &plan.tenant, opts, |emit| {
            files::compact_runs::merge_files(&inner.blobs, footers, &inputs, &order, emit)
        })?;
        meta.partition_ns = plan.partition_ns;
        return Ok(meta);
    }
    let mut batches = Vec::new();
    for f in &plan.inputs {
        batches.extend(files::read_file(&inner.blobs, &f.path)?);
    }
    let file = files::NewFile {
        name: &name,
        tenant: &plan.tenant,
        signal: plan.signal,
        partition: plan.partition_ns,
    };
    files::write_new(
        &inner.blobs,
        file,
        &batches,
        files::WriteOptions::compaction(&inner.config),
        &inner.series.index.file_order(&plan.tenant),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, partition_ns: i64, bytes: u64) -> FileMeta {
        FileMeta {
            bytes,
            partition_ns,
            ..FileMeta::for_test(path)
        }
    }

    #[test]
    fn planner_groups_small_files_per_partition() {
        let mut files: Vec<FileMeta> = (0..10).map(|i| file(&format!("a{i:02}"), 0, 10)).collect();
        files.push(file("big", 0, 1000));
        files.extend((0..3).map(|i| file(&format!("b{i}"), 1, 10)));
        let plans = plan_compactions(&files, 1000, MIN_INPUTS, u64::MAX);
        assert_eq!(plans.len(), 1, "{plans:?}");
        assert_eq!(plans[0].inputs.len(), 10);
        assert_eq!(plans[0].partition_ns, 0);
        // A target that fits only 5 small files splits the run.
        let plans = plan_compactions(&files[..10], 50, MIN_INPUTS, u64::MAX);
        assert_eq!(
            plans.iter().map(|p| p.inputs.len()).collect::<Vec<_>>(),
            vec![5, 5]
        );
        // So does a row cap (every file here has one row); the last 2 are too few.
        let plans = plan_compactions(&files[..10], 1000, MIN_INPUTS, 4);
        assert_eq!(
            plans.iter().map(|p| p.inputs.len()).collect::<Vec<_>>(),
            vec![4, 4]
        );
        // Metric samples weigh 1/16 of a row: 10 files of 16 samples fit a cap of 10.
        let metrics: Vec<FileMeta> = (0..10)
            .map(|i| FileMeta {
                signal: Signal::Metrics,
                rows: 16,
                ..file(&format!("m{i}"), 0, 10)
            })
            .collect();
        let plans = plan_compactions(&metrics, 1000, MIN_INPUTS, 10);
        assert_eq!(plans.len(), 1);
        assert_eq!(plans[0].inputs.len(), 10);
    }
}
