//! Where a manifest is committed: [`ManifestStore`], with the `MANIFEST` file of a
//! single node ([`LocalManifest`]) and the bucket snapshots of a cluster
//! (`bucket.rs`), chosen by `cluster.manifest`.
//!
//! A commit is a change applied to a head. The local file has one writer, so the head
//! is always the manifest this process last committed. A bucket may have several
//! (ingesters, the compactor): when another commit got in first the change is applied
//! again to that newer head, so every change must be a function of the manifest it is
//! applied to (add these files, drop those, move this checkpoint), never a copy of an
//! older one.

use std::path::{Path, PathBuf};

use osprey_config::{ClusterConfig, ManifestMode};

use super::Manifest;
use super::bucket::BucketManifest;
use crate::StorageError;
use crate::files::blobs::Blobs;

/// The commit point of one process.
pub(crate) trait ManifestStore: Send + Sync {
    /// Applies `change` to `base` (the head this process holds; a bucket store uses the
    /// newest head it has read or committed itself) and commits the result, durably;
    /// returns what was committed, which may rest on a newer head than `base` when
    /// another writer committed meanwhile.
    fn commit(
        &self,
        base: &Manifest,
        change: &dyn Fn(&mut Manifest),
    ) -> Result<Manifest, StorageError>;

    /// What the names of the data files this process writes start with, so that
    /// writers sharing a store never write one name: `""` for the local file (one
    /// writer), `<node>-<epoch:06>-` in a bucket.
    fn file_prefix(&self) -> String {
        String::new()
    }

    /// Whose unlisted files this process may delete as orphans on start: `None` for
    /// every one (the single writer of the local file), a node id in a bucket.
    fn orphan_owner(&self) -> Option<String> {
        None
    }

    /// The newest snapshot in the store when it is newer than the last this process
    /// read or committed (as this process sees it); `None` otherwise, and always for
    /// the local file, which only this process writes.
    fn newer_head(&self) -> Result<Option<Manifest>, StorageError> {
        Ok(None)
    }

    /// Whether other processes commit to this store too (so a newer head may appear).
    fn shared(&self) -> bool {
        false
    }

    /// Whether other processes read this store's files (a cluster's queriers, its
    /// compactor and ingesters): then a file a commit drops stays readable for the
    /// deletion delay even across this process's restart (`Manifest::dropped`). Not
    /// for the local file, nor for a single node committing snapshots (no
    /// `cluster.ingesters`), whose restart leaves nobody reading the dropped files.
    fn read_elsewhere(&self) -> bool {
        false
    }

    /// How long a dropped file must stay readable: `cluster.deletion_delay` for a
    /// store other processes read; `None` for the local file (the process's own
    /// queries only).
    fn deletion_delay(&self) -> Option<std::time::Duration> {
        None
    }

    /// Deletes old snapshots, when this process is the one that prunes them (nothing
    /// for the local file, which is rewritten in place).
    fn prune_snapshots(&self) {}

    /// Reads the head and fails with `Fenced` when a newer process holds this one's
    /// node id (nothing to check for the local file or a follower).
    fn check_fence(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Opens the commit point `cluster.manifest` names and returns it with the head
/// manifest (in a bucket, after claiming this process's new epoch; a `follower` claims
/// none and never commits, and sees every writer's checkpoint).
pub(crate) fn open_store(
    dir: &Path,
    blobs: &Blobs,
    cluster: &ClusterConfig,
    follower: bool,
) -> Result<(Box<dyn ManifestStore>, Manifest), StorageError> {
    if follower {
        let (store, head) = BucketManifest::follow(blobs, cluster)?;
        return Ok((Box::new(store), head));
    }
    match cluster.manifest {
        ManifestMode::Local => {
            let store = LocalManifest {
                dir: dir.to_path_buf(),
            };
            let head = store.load(blobs)?;
            Ok((Box::new(store), head))
        }
        ManifestMode::Bucket => {
            let (store, head) = BucketManifest::open(dir, blobs, cluster)?;
            Ok((Box::new(store), head))
        }
    }
}

/// The `MANIFEST` file in the data directory.
pub(crate) struct LocalManifest {
    dir: PathBuf,
}

impl LocalManifest {
    fn load(&self, blobs: &Blobs) -> Result<Manifest, StorageError> {
        if !self.dir.join(super::NAME).exists() && super::bucket::has_snapshots(blobs)? {
            // Starting from an empty manifest would delete every data file as an
            // orphan.
            return Err(StorageError::Config {
                key: "cluster.manifest",
                message: format!(
                    "{} is committed through snapshots in the store (manifest/), not a MANIFEST file; set cluster.manifest = \"bucket\"",
                    self.dir.display()
                ),
            });
        }
        Manifest::load(&self.dir)
    }
}

impl ManifestStore for LocalManifest {
    fn commit(
        &self,
        base: &Manifest,
        change: &dyn Fn(&mut Manifest),
    ) -> Result<Manifest, StorageError> {
        let mut next = base.clone();
        change(&mut next);
        next.commit(&self.dir)?;
        Ok(next)
    }
}
