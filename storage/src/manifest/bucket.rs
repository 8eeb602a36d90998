//! The manifest as numbered snapshots in the data files' store
//! (`cluster.manifest = "bucket"`, `storage/docs/format/cluster.md`): each commit
//! creates `manifest/<seq+1>.json` once (`snapshots.rs`), under this process's epoch.
//!
//! Every writer has its own WAL, so a snapshot keeps each one's checkpoint under its
//! node id (`checkpoints`); the engine sees its own as `wal_checkpoint` and
//! `flushed_ahead`, as with the local file.
//!
//! On open the process claims a new epoch (a commit raising its `epochs` entry), so a
//! twin still running with the same node id finds a higher epoch in the head at its
//! next commit and is fenced instead of committing. A directory that had a `MANIFEST`
//! file is carried over: the first snapshot is that manifest, and the file is renamed
//! to `MANIFEST.migrated`.
//!
//! Old snapshots are pruned here behind a boundary marker, by one writer only: the
//! compactor in a cluster (node id `compactor`, every maintenance round and every
//! [`PRUNE_EVERY`] commits), or the single node when no ingesters are listed. All but
//! the newest [`KEEP`] that are older than `cluster.deletion_delay` go, so a reader
//! holding an older head can still read it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use osprey_config::{ClusterConfig, NODE_ID_RULE, node_id_is_valid};

use super::store::ManifestStore;
use super::{Checkpoint, Manifest};
use crate::StorageError;
use crate::files::blobs::Blobs;
use crate::snapshots::{Commit, Snapshots};

/// Snapshots kept however old they are.
const KEEP: u64 = 100;
/// Pruning runs after every this many commits.
const PRUNE_EVERY: u64 = 20;
/// Reads of a head that vanished between its listing and its read (pruned under a
/// reader that slept) before giving up.
const HEAD_READS: usize = 5;

pub(crate) struct BucketManifest {
    blobs: Blobs,
    snapshots: Snapshots,
    node_id: String,
    /// The epoch this process claimed on open.
    epoch: u64,
    /// The newest snapshot this process read or committed, with its seq (as this
    /// process sees it: `to_view`, or as stored for a follower). A change is applied to
    /// this, not to what the caller holds, so no commit can rest on an older head than
    /// one already read. Held while committing: one commit at a time.
    head: Mutex<(u64, Manifest)>,
    deletion_delay: Duration,
    /// A querier's view: no epoch, no commits, every writer's checkpoint as stored.
    follower: bool,
    /// Whether this writer prunes old snapshots (the compactor, or a single node).
    prunes: bool,
    /// A single node (no `cluster.ingesters`): no other process reads the files.
    alone: bool,
}

/// Whether the store holds snapshots (a directory a local `MANIFEST` must not open).
pub(crate) fn has_snapshots(blobs: &Blobs) -> Result<bool, StorageError> {
    Ok(blobs.wait(blobs.snapshots().head())?.is_some())
}

/// A random 128-bit commit id (hex): unique across commits of every process.
fn commit_id() -> Result<String, StorageError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StorageError::Config {
        key: "cluster.manifest",
        message: format!("no randomness for a commit id: {e}"),
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl BucketManifest {
    /// Opens the snapshots in `blobs`' store, seeds the first from `dir/MANIFEST` when
    /// there is none, and claims a new epoch for this node. Returns the store and the
    /// head manifest as of the claim.
    pub(super) fn open(
        dir: &Path,
        blobs: &Blobs,
        cluster: &ClusterConfig,
    ) -> Result<(Self, Manifest), StorageError> {
        let node_id = cluster.node_id();
        if !node_id_is_valid(&node_id) {
            return Err(StorageError::Config {
                key: "cluster.node_id",
                message: format!("{node_id:?} is not a valid node id: {NODE_ID_RULE}"),
            });
        }
        let snapshots = blobs.snapshots();
        blobs.wait(snapshots.probe(&node_id))?;
        let prunes = cluster.ingesters.is_empty() || node_id == osprey_config::COMPACTOR_ID;
        let mut this = BucketManifest {
            blobs: blobs.clone(),
            snapshots,
            node_id,
            epoch: 0,
            head: Mutex::new((0, Manifest::default())),
            deletion_delay: cluster.deletion_delay,
            follower: false,
            prunes,
            alone: cluster.ingesters.is_empty(),
        };
        let existing = this.read_head()?;
        let seeded = existing.is_none();
        let (mut seq, mut head) = match existing {
            Some(h) => h,
            // The MANIFEST's checkpoint is this node's WAL's.
            None => (0, this.to_snapshot(Manifest::load(dir)?)),
        };
        loop {
            let epoch = head.epochs.get(&this.node_id).copied().unwrap_or(0) + 1;
            let mut next = head.clone();
            next.epochs.insert(this.node_id.clone(), epoch);
            if let Commit::Committed { seq } = this.try_commit(seq + 1, &next)? {
                let next = this.to_view(next);
                this.epoch = epoch;
                *this.head.get_mut().map_err(|_| poisoned())? = (seq, next.clone());
                if seeded {
                    retire_local_manifest(dir)?;
                }
                tracing::info!(node = %this.node_id, epoch, seq, "manifest: committing snapshots in the store under a new epoch");
                return Ok((this, next));
            }
            (seq, head) = this.read_head()?.ok_or_else(vanished)?;
        }
    }

    /// A follower of the snapshots in `blobs`' store (a querier): it reads the head as
    /// stored and never commits. An empty store is an empty manifest.
    pub(super) fn follow(
        blobs: &Blobs,
        cluster: &ClusterConfig,
    ) -> Result<(Self, Manifest), StorageError> {
        let this = BucketManifest {
            blobs: blobs.clone(),
            snapshots: blobs.snapshots(),
            node_id: cluster.node_id(),
            epoch: 0,
            head: Mutex::new((0, Manifest::default())),
            deletion_delay: cluster.deletion_delay,
            follower: true,
            prunes: false,
            alone: false,
        };
        let (seq, head) = this.read_head()?.unwrap_or_default();
        *this.head.lock().map_err(|_| poisoned())? = (seq, head.clone());
        Ok((this, head))
    }

    /// The newest snapshot and its seq; `None` when the store has none.
    fn read_head(&self) -> Result<Option<(u64, Manifest)>, StorageError> {
        for _ in 0..HEAD_READS {
            let Some(seq) = self.blobs.wait(self.snapshots.head())? else {
                return Ok(None);
            };
            if let Some(body) = self.blobs.wait(self.snapshots.read(seq))? {
                let m =
                    serde_json::from_value(body).map_err(|e| StorageError::CorruptManifest {
                        path: PathBuf::from(format!("manifest/{seq:020}.json")),
                        reason: e.to_string(),
                    })?;
                return Ok(Some((seq, m)));
            }
        }
        Err(vanished())
    }

    /// A snapshot as this process sees it: its own checkpoint in `wal_checkpoint` and
    /// `flushed_ahead` (none yet: 0 and empty).
    fn to_view(&self, mut m: Manifest) -> Manifest {
        let mine = m
            .checkpoints
            .get(&self.node_id)
            .cloned()
            .unwrap_or_default();
        m.wal_checkpoint = mine.wal;
        m.flushed_ahead = mine.flushed_ahead;
        m
    }

    /// The snapshot of this process's view: its checkpoint under its node id.
    fn to_snapshot(&self, mut m: Manifest) -> Manifest {
        let mine = Checkpoint {
            wal: std::mem::take(&mut m.wal_checkpoint),
            flushed_ahead: std::mem::take(&mut m.flushed_ahead),
        };
        m.checkpoints.insert(self.node_id.clone(), mine);
        m
    }

    fn try_commit(&self, seq: u64, m: &Manifest) -> Result<Commit, StorageError> {
        let body = serde_json::to_value(m).map_err(|e| StorageError::Layout(e.to_string()))?;
        let id = commit_id()?;
        self.blobs.wait(self.snapshots.commit(seq, &id, body))
    }

    /// A head whose epoch for this node is not the one it claimed: a newer process
    /// with its node id has started.
    fn check_epoch(&self, head: &Manifest) -> Result<(), StorageError> {
        match head.epochs.get(&self.node_id) {
            Some(&e) if e == self.epoch => Ok(()),
            other => Err(StorageError::Fenced {
                node_id: self.node_id.clone(),
                epoch: self.epoch,
                head: other.copied().unwrap_or(0),
            }),
        }
    }

    fn prune(&self) {
        if !self.prunes {
            return;
        }
        match self
            .blobs
            .wait(self.snapshots.prune(KEEP, self.deletion_delay))
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(snapshots = n, "manifest: pruned old snapshots"),
            Err(e) => {
                tracing::warn!(error = %e, "manifest: pruning old snapshots failed; will retry")
            }
        }
    }
}

impl ManifestStore for BucketManifest {
    /// `_base` is not used: the change is applied to the newest head this store has
    /// read or committed (see `head`).
    fn commit(
        &self,
        _base: &Manifest,
        change: &dyn Fn(&mut Manifest),
    ) -> Result<Manifest, StorageError> {
        if self.follower {
            return Err(StorageError::Config {
                key: "cluster",
                message: "a querier reads the manifest and never commits".into(),
            });
        }
        let mut head = self.head.lock().map_err(|_| poisoned())?;
        loop {
            self.check_epoch(&head.1)?;
            let mut next = head.1.clone();
            change(&mut next);
            let seq = head.0 + 1;
            match self.try_commit(seq, &self.to_snapshot(next.clone()))? {
                Commit::Committed { seq } => {
                    *head = (seq, next.clone());
                    if seq % PRUNE_EVERY == 0 {
                        self.prune_snapshots();
                    }
                    return Ok(next);
                }
                Commit::Conflict { .. } | Commit::BehindBoundary { .. } => {
                    let (seq, newer) = self.read_head()?.ok_or_else(vanished)?;
                    tracing::debug!(seq, "manifest: another commit got in first; applying again");
                    *head = (seq, self.to_view(newer));
                }
            }
        }
    }

    fn file_prefix(&self) -> String {
        format!("{}-{:06}-", self.node_id, self.epoch)
    }

    fn orphan_owner(&self) -> Option<String> {
        Some(self.node_id.clone())
    }

    fn newer_head(&self) -> Result<Option<Manifest>, StorageError> {
        let mut known = self.head.lock().map_err(|_| poisoned())?;
        let Some((seq, m)) = self.read_head()? else {
            return Ok(None);
        };
        if !self.follower {
            self.check_epoch(&m)?;
        }
        if seq <= known.0 {
            return Ok(None);
        }
        let m = if self.follower { m } else { self.to_view(m) };
        *known = (seq, m.clone());
        Ok(Some(m))
    }

    fn shared(&self) -> bool {
        true
    }

    fn read_elsewhere(&self) -> bool {
        !self.alone
    }

    fn deletion_delay(&self) -> Option<Duration> {
        Some(self.deletion_delay)
    }

    fn prune_snapshots(&self) {
        self.prune();
    }

    fn check_fence(&self) -> Result<(), StorageError> {
        if self.follower {
            return Ok(());
        }
        match self.read_head()? {
            Some((_, head)) => self.check_epoch(&head),
            None => Ok(()),
        }
    }
}

/// The `MANIFEST` a directory had before its first snapshot, kept (renamed) for
/// reference: no longer the commit point.
fn retire_local_manifest(dir: &Path) -> Result<(), StorageError> {
    let from = dir.join(super::NAME);
    if !from.exists() {
        return Ok(());
    }
    let to = dir.join("MANIFEST.migrated");
    std::fs::rename(&from, &to).map_err(|e| StorageError::io(&from, e))?;
    crate::wal::sync_dir(dir)
}

fn poisoned() -> StorageError {
    StorageError::Closed("manifest lock poisoned".into())
}

fn vanished() -> StorageError {
    StorageError::Layout("the manifest head vanished while it was read".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::FileMeta;

    fn node(id: &str) -> ClusterConfig {
        ClusterConfig {
            node_id: id.into(),
            manifest: osprey_config::ManifestMode::Bucket,
            ..Default::default()
        }
    }

    fn file(path: &str) -> FileMeta {
        FileMeta::for_test(path)
    }

    /// Two writers on one store: each commit lands on the other's, re-applied after a
    /// conflict, and each keeps its own checkpoint and file-name prefix.
    #[test]
    fn two_writers_interleave_without_losing_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let (a, mut view_a) = BucketManifest::open(dir.path(), &blobs, &node("a")).unwrap();
        let (b, mut view_b) = BucketManifest::open(dir.path(), &blobs, &node("b")).unwrap();
        assert_eq!(view_b.epochs, [("a".into(), 1), ("b".into(), 1)].into());
        assert_ne!(a.file_prefix(), b.file_prefix());
        for i in 0..3u64 {
            // `a` commits on a head it has not seen `b`'s last commit in.
            view_a = a
                .commit(&view_a, &|m| {
                    m.files.push(file(&format!("a{i}")));
                    m.wal_checkpoint = 10 + i;
                })
                .unwrap();
            view_b = b
                .commit(&view_b, &|m| {
                    m.files.push(file(&format!("b{i}")));
                    m.wal_checkpoint = 20 + i;
                })
                .unwrap();
        }
        let mut paths: Vec<_> = view_b.files.iter().map(|f| f.path.clone()).collect();
        paths.sort();
        assert_eq!(paths, ["a0", "a1", "a2", "b0", "b1", "b2"]);
        assert_eq!((view_a.wal_checkpoint, view_b.wal_checkpoint), (12, 22));
        let (_, head) = b.read_head().unwrap().unwrap();
        assert_eq!(head.checkpoints["a"].wal, 12);
        assert_eq!(head.checkpoints["b"].wal, 22);
        assert_eq!(head.wal_checkpoint, 0);
        // A writer with a new epoch for `a` fences the old one at its next commit.
        let (_a2, _) = BucketManifest::open(dir.path(), &blobs, &node("a")).unwrap();
        let e = a.commit(&view_a, &|_| {}).unwrap_err();
        assert!(
            matches!(
                e,
                StorageError::Fenced {
                    epoch: 1,
                    head: 2,
                    ..
                }
            ),
            "{e}"
        );
        b.commit(&view_b, &|_| {}).unwrap();
    }

    /// In a cluster only the compactor prunes old snapshots; two compactors fence each
    /// other whatever their host names, since both commit as `compactor`.
    #[test]
    fn only_the_compactor_prunes_and_a_second_one_fences_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::local(dir.path()).unwrap();
        let in_cluster = |id: &str| ClusterConfig {
            ingesters: vec!["i-0:4319".into()],
            deletion_delay: Duration::ZERO,
            ..node(id)
        };
        let count = || {
            let names = std::fs::read_dir(dir.path().join("manifest")).unwrap();
            let json = names.filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().ends_with(".json")
            });
            json.count() as u64
        };
        let (ingester, mut view) =
            BucketManifest::open(dir.path(), &blobs, &in_cluster("i-0")).unwrap();
        for _ in 0..KEEP + 2 * PRUNE_EVERY {
            view = ingester.commit(&view, &|m| m.wal_checkpoint += 1).unwrap();
        }
        let before = count();
        assert!(
            before > KEEP + PRUNE_EVERY,
            "an ingester pruned: {before} left"
        );
        let compactor = in_cluster(osprey_config::COMPACTOR_ID);
        let (first, seen) = BucketManifest::open(dir.path(), &blobs, &compactor).unwrap();
        first.prune_snapshots();
        assert_eq!(count(), KEEP, "the compactor keeps the newest {KEEP}");
        let (_second, _) = BucketManifest::open(dir.path(), &blobs, &compactor).unwrap();
        let e = first.commit(&seen, &|_| {}).unwrap_err();
        assert!(matches!(e, StorageError::Fenced { .. }), "{e}");
    }
}
