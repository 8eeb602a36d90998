//! A querier's storage (`storage/docs/format/cluster.md`, "Read path"): it follows the
//! bucket snapshots the writers commit and reads every ingester's unflushed rows
//! through an [`UnflushedSource`] (the node-to-node API, `query/src/api/internal.rs`),
//! so that each acknowledged row is counted once: through a file of the snapshot it
//! holds, or through an ingester's memory above that snapshot's checkpoint for it.
//!
//! Its data directory keeps an empty WAL; it commits, quarantines and deletes
//! nothing. The compactor reads the same way (its rules see every acknowledged row)
//! while it commits its own merges ([`Storage::open_compactor`]). The head is read again every `cluster.poll_interval` ([`Storage::run_manifest_poll`])
//! and at once when an ingester says the snapshot is older than its last commit.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use osprey_config::{ClusterConfig, StorageConfig};

use crate::manifest::Manifest;
use crate::series::Series;
use crate::series::exemplars::Exemplar;
use crate::series::metadata::Metadata;
use crate::tail::{TailFeed, TailReceiver};
use crate::{Signal, Snapshot, Storage, StorageError};

/// How often one read asks again after a `StaleSnapshot` (each time on a newer head).
const STALE_RETRIES: usize = 8;

/// Where a follower reads the ingesters' unflushed rows. Blocking: it is called from
/// the threads queries run on.
pub trait UnflushedSource: Send + Sync {
    /// `tenant`'s `signal` rows in each ingester's memory above `checkpoints` (node id
    /// → the WAL segment up to which that node's rows of this tenant are in the
    /// follower's files; 0 for a node the snapshot does not know): one answer per
    /// ingester. A node whose last commit is newer answers `StaleSnapshot`; one that
    /// cannot be reached `Unreachable`.
    fn fetch(
        &self,
        tenant: &str,
        signal: Signal,
        checkpoints: &BTreeMap<String, u64>,
    ) -> Vec<Result<Vec<RecordBatch>, StorageError>>;

    /// The definitions of `tenant`'s series `ids` that each ingester holds (series ids
    /// are hashes of the labels, the same on every node): one answer per ingester.
    fn series(&self, tenant: &str, ids: &[u64]) -> Vec<Result<Vec<Series>, StorageError>>;

    /// `tenant`'s exemplars in `start_ms..=end_ms` of the series the selectors of the
    /// PromQL expression `query` match, that each ingester holds (exemplars are kept
    /// only in the memory of the ingester that received them): one answer per ingester.
    fn exemplars(
        &self,
        tenant: &str,
        query: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<Result<Vec<Exemplar>, StorageError>>;

    /// `tenant`'s metric metadata (of `metric` only, when given) that each ingester
    /// holds (in memory only, as on one node): one answer per ingester.
    fn metadata(&self, tenant: &str, metric: Option<&str>) -> Vec<Result<Families, StorageError>>;

    /// Relays every ingester's logs batches of `tenant`, as each acknowledges them,
    /// into `feed` until nobody listens to it or it is closed ([`TailFeed::wanted`]).
    /// Returns at once (the relays run on tasks of their own).
    fn tail(&self, tenant: &str, feed: Arc<TailFeed>);
}

/// Metric families and their metadata, as `/api/v1/metadata` lists them.
pub type Families = BTreeMap<String, Vec<Metadata>>;

/// Every answer's items; a node that could not be reached is left out when the
/// request accepts partial answers (`partial`), else its error is returned. Any other
/// error wins over those.
fn gather<T>(answers: Vec<Result<Vec<T>, StorageError>>) -> Result<Vec<T>, StorageError> {
    let mut items = Vec::new();
    let mut failed = None;
    for answer in answers {
        match answer {
            Ok(some) => items.extend(some),
            Err(StorageError::Unreachable { node, reason }) => {
                let e = StorageError::Unreachable {
                    node: node.clone(),
                    reason,
                };
                if let Err(e) = crate::partial::tolerate(&node, e) {
                    failed.get_or_insert(e);
                }
            }
            Err(e) => failed = Some(e),
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(items),
    }
}

/// Each writer's checkpoint for `tenant` in a snapshot as stored.
fn checkpoints_of(m: &Manifest, tenant: &str) -> BTreeMap<String, u64> {
    m.checkpoints
        .iter()
        .map(|(node, c)| {
            let ahead = c
                .flushed_ahead
                .iter()
                .filter(|a| a.tenant == tenant)
                .map(|a| a.segment);
            (node.clone(), ahead.fold(c.wal, u64::max))
        })
        .collect()
}

impl Storage {
    /// Opens `dir` as a follower of the bucket snapshots in the store `config` names
    /// (a querier), reading unflushed rows from `source`.
    pub fn open_follower(
        dir: &Path,
        config: StorageConfig,
        cluster: &ClusterConfig,
        source: Arc<dyn UnflushedSource>,
    ) -> Result<Self, StorageError> {
        Self::open_inner(dir, config, cluster, crate::open::Link::Follower(source))
    }

    /// Opens `dir` as the compactor's storage: a writer of its own commits (as
    /// [`Storage::open_with`]) whose reads see the ingesters' unflushed rows from
    /// `source`, as a follower's do, so that the rules it evaluates see every
    /// acknowledged row.
    pub fn open_compactor(
        dir: &Path,
        config: StorageConfig,
        cluster: &ClusterConfig,
        source: Arc<dyn UnflushedSource>,
    ) -> Result<Self, StorageError> {
        Self::open_inner(dir, config, cluster, crate::open::Link::Compactor(source))
    }

    /// Whether this storage follows the bucket snapshots and never commits (a querier).
    pub fn is_follower(&self) -> bool {
        self.inner.follows
    }

    /// Whether reads take the ingesters' unflushed rows from a source rather than this
    /// process's memory (a querier, or the compactor).
    pub fn reads_ingesters(&self) -> bool {
        self.inner.unflushed.is_some()
    }

    /// What a query reads of one tenant's table: [`Storage::snapshot`] on a node that
    /// holds its rows; on a follower, the files of the snapshot it holds and the
    /// ingesters' rows above it.
    pub fn read_snapshot(&self, tenant: &str, signal: Signal) -> Result<Snapshot, StorageError> {
        let Some(source) = &self.inner.unflushed else {
            return Ok(self.snapshot(tenant, signal));
        };
        for _ in 0..STALE_RETRIES {
            let (files, checkpoints) = {
                let state = self
                    .inner
                    .state
                    .read()
                    .map_err(|_| StorageError::Closed("state lock poisoned".into()))?;
                let files: Vec<_> = state
                    .manifest
                    .files
                    .iter()
                    .filter(|m| m.tenant == tenant && m.signal == signal)
                    .cloned()
                    .collect();
                (files, checkpoints_of(&state.manifest, tenant))
            };
            match gather(source.fetch(tenant, signal, &checkpoints)) {
                Ok(batches) => {
                    let bounds = batches
                        .iter()
                        .map(|b| crate::memtable::bounds_of(signal, b))
                        .collect();
                    return Ok(Snapshot {
                        batches,
                        bounds,
                        files,
                    });
                }
                Err(StorageError::StaleSnapshot { .. }) => match self.inner.follows {
                    true => {
                        self.refresh_head()?;
                    }
                    // A writer's own commits must not interleave with the refresh.
                    false => {
                        let runtime = tokio::runtime::Handle::try_current().ok();
                        let _guard = crate::files::blobs::wait_on(
                            runtime.as_ref(),
                            self.inner.flush_lock.lock(),
                        );
                        self.refresh_head()?;
                    }
                },
                Err(e) => return Err(e),
            }
        }
        Err(StorageError::Closed(
            "the ingesters kept committing past every manifest snapshot read; retry".into(),
        ))
    }

    /// On a follower: `tenant`'s metrics snapshot (files and the ingesters' unflushed
    /// samples), after adding to the series index every series those samples name
    /// that it does not hold yet, so that selectors find them; for a
    /// [`Storage::sample_reader_with`]. `None` on a writer, whose index holds its own
    /// series.
    pub fn sync_metrics(&self, tenant: &str) -> Result<Option<Snapshot>, StorageError> {
        let Some(source) = &self.inner.unflushed else {
            return Ok(None);
        };
        let snap = self.read_snapshot(tenant, Signal::Metrics)?;
        let mut ids: Vec<u64> = Vec::new();
        for b in &snap.batches {
            let col = b
                .column_by_name("series_id")
                .and_then(|c| c.as_primitive_opt::<arrow::datatypes::UInt64Type>())
                .ok_or_else(|| crate::series::missing("series_id"))?;
            ids.extend(col.values().iter().copied());
        }
        ids.sort_unstable();
        ids.dedup();
        let mut unknown: Vec<u64> = self.series().unknown(tenant, &ids).into_iter().collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            let found = gather(source.series(tenant, &unknown))?;
            self.series().observe_series(tenant, found, false);
        }
        Ok(Some(snap))
    }

    /// On a process reading the ingesters: their exemplars of `tenant` in
    /// `start_ms..=end_ms` of the series `query`'s selectors match (see
    /// [`UnflushedSource::exemplars`]); `None` on a node that holds its own.
    pub fn ingester_exemplars(
        &self,
        tenant: &str,
        query: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Option<Vec<Exemplar>>, StorageError> {
        let Some(source) = &self.inner.unflushed else {
            return Ok(None);
        };
        gather(source.exemplars(tenant, query, start_ms, end_ms)).map(Some)
    }

    /// On a process reading the ingesters: their metric metadata of `tenant`, merged
    /// (each family's distinct descriptions); `None` on a node that holds its own.
    pub fn ingester_metadata(
        &self,
        tenant: &str,
        metric: Option<&str>,
    ) -> Result<Option<Families>, StorageError> {
        let Some(source) = &self.inner.unflushed else {
            return Ok(None);
        };
        let answers = source
            .metadata(tenant, metric)
            .into_iter()
            .map(|a| a.map(|families| vec![families]));
        let mut merged = Families::new();
        for families in gather(answers.collect())? {
            for (name, list) in families {
                let kept = merged.entry(name).or_default();
                for m in list {
                    if !kept.contains(&m) {
                        kept.push(m);
                    }
                }
            }
        }
        Ok(Some(merged))
    }

    /// `tenant`'s logs batches as they are acknowledged ([`Storage::subscribe_logs`]);
    /// on a querier, every ingester's, relayed into a feed of this subscription's own
    /// (ended with the others by [`Storage::end_tails`]).
    pub fn subscribe_logs_of(&self, tenant: &str) -> TailReceiver {
        let Some(source) = self.inner.unflushed.as_ref().filter(|_| self.inner.follows) else {
            return self.subscribe_logs();
        };
        let feed = Arc::new(TailFeed::default());
        let rx = feed.subscribe();
        if let Ok(mut relays) = self.inner.relays.lock() {
            relays.retain(|f| f.strong_count() > 0);
            relays.push(Arc::downgrade(&feed));
        }
        source.tail(tenant, feed);
        rx
    }

    /// Reads the newest snapshot and, when it is newer than the one held, makes it the
    /// one queries see (loading the series files it adds). Local manifests: nothing
    /// to do. A writer calls it with `flush_lock` held
    /// ([`Storage::refresh_head_locked`]), so that no commit of its own interleaves.
    pub fn refresh_head(&self) -> Result<bool, StorageError> {
        let newer = self.inner.manifest_store.newer_head();
        let Some(head) = self.fenced_on(newer)? else {
            return Ok(false);
        };
        let known: std::collections::HashSet<String> = match self.inner.state.read() {
            Ok(state) => state.manifest.series_files.iter().cloned().collect(),
            Err(_) => return Err(StorageError::Closed("state lock poisoned".into())),
        };
        for rel in head.series_files.iter().filter(|r| !known.contains(*r)) {
            self.inner.series.index.load_file(&self.inner.blobs, rel)?;
        }
        let mut state = self
            .inner
            .state
            .write()
            .map_err(|_| StorageError::Closed("state lock poisoned".into()))?;
        self.inner.metrics.set_files(&head.files);
        state.manifest = head;
        Ok(true)
    }

    /// [`Storage::refresh_head`] for a writer sharing the store (the compactor, before
    /// each round of maintenance): under `flush_lock`, off the async workers.
    pub async fn refresh_head_locked(&self) -> Result<bool, StorageError> {
        if !self.inner.manifest_store.shared() {
            return Ok(false);
        }
        let _guard = self.inner.flush_lock.lock().await;
        let s = self.clone();
        tokio::task::spawn_blocking(move || s.refresh_head())
            .await
            .map_err(|e| StorageError::Closed(format!("manifest refresh task: {e}")))?
    }

    /// `result`, after marking this process fenced (every write refused, and the
    /// binary exits) when it says so.
    fn fenced_on<T>(&self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        if let Err(e) = &result {
            self.inner.note_fenced(e);
        }
        result
    }

    /// Every `every` until `shutdown`: a follower (and the compactor, which reads the
    /// ingesters too) reads the head again; another writer sharing the store checks that the head still holds its epoch, so a process whose
    /// node id a newer one took is fenced within one poll, even if it commits nothing.
    /// A writer on the local file returns at once.
    pub async fn run_manifest_poll(
        &self,
        every: std::time::Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        if !self.inner.manifest_store.shared() {
            return;
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(every) => {}
            }
            let s = self.clone();
            let poll = move || match s.is_follower() {
                true => s.refresh_head().map(|_| ()),
                false => {
                    let checked = s.fenced_on(s.inner.manifest_store.check_fence());
                    if checked.is_ok() {
                        s.inner.lease.confirm();
                    }
                    checked
                }
            };
            let polled = match self.reads_ingesters() && !self.is_follower() {
                // The compactor: a newer head (which checks its epoch too), so that its
                // rules read the ingesters above fresh checkpoints.
                true => Ok(self.refresh_head_locked().await.map(|_| ())),
                false => tokio::task::spawn_blocking(poll).await,
            };
            match polled {
                Ok(Err(StorageError::Fenced { .. })) => return,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "reading the manifest head failed; will retry")
                }
                Err(e) => tracing::warn!(error = %e, "manifest poll task failed"),
            }
        }
    }
}
