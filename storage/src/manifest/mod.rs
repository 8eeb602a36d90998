//! The manifest: the set of live Parquet files and the WAL checkpoint, published
//! atomically. Where it is committed is a [`ManifestStore`] (`store.rs`): the
//! `MANIFEST` file (write `MANIFEST.tmp`, fsync, rename over `MANIFEST`, fsync the
//! directory), or numbered snapshots created once in the data files' store
//! (`bucket.rs`, `cluster.manifest = "bucket"`).
//!
//! Format: `storage/docs/format/manifest.md`, `storage/docs/format/cluster.md`.
//!
//! Invariant: every record in WAL segments with id ≤ `wal_checkpoint` is in exactly one
//! listed file, and no record of a later segment is in any listed file, except a
//! tenant's records of segments ≤ its `flushed_ahead` entry, which are in exactly one
//! listed file too (replay skips them). Files in `tables/` that the manifest does not
//! list are leftovers of an interrupted flush and are deleted.

mod bucket;
mod store;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::files::blobs::Blobs;
use crate::wal::sync_dir;
use crate::{Signal, StorageError};

pub(crate) use store::{ManifestStore, open_store};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileMeta {
    pub tenant: String,
    pub signal: Signal,
    /// Relative to the data directory, `/`-separated.
    pub path: String,
    /// Rows in memory terms: log records, spans, samples.
    pub rows: u64,
    /// Parquet rows of a samples file in the runs layout (`files/runs.rs`): one per
    /// series (and per 65536 of its samples). 0 for logs and spans, and for samples
    /// files of the row-per-sample layout before it, which open migrates.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub runs: u64,
    pub bytes: u64,
    pub min_time_ns: i64,
    pub max_time_ns: i64,
    /// Start of the time partition every row of the file belongs to.
    #[serde(default)]
    pub partition_ns: i64,
    /// A sorted trace-id sidecar (`<path>.tids`) exists for this file.
    #[serde(default)]
    pub trace_index: bool,
    /// A full-text index (`<path>.fts`, see `fulltext.rs`) exists for this file.
    #[serde(default)]
    pub text_index: bool,
    /// A tag index (`<path>.tags`, see `tag_index.rs`) exists for this file.
    #[serde(default)]
    pub tag_index: bool,
}

impl FileMeta {
    /// A one-row logs file of tenant `t` at `path`, for tests of what lists files.
    #[cfg(test)]
    pub(crate) fn for_test(path: &str) -> Self {
        FileMeta {
            tenant: "t".into(),
            signal: Signal::Logs,
            path: path.into(),
            rows: 1,
            runs: 0,
            bytes: 1,
            min_time_ns: 0,
            max_time_ns: 0,
            partition_ns: 0,
            trace_index: false,
            text_index: false,
            tag_index: false,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// WAL segments with an id up to this one are fully contained in `files`.
    pub wal_checkpoint: u64,
    /// Next file sequence number.
    pub next_file_seq: u64,
    pub files: Vec<FileMeta>,
    /// Series index files (relative paths), see `series.rs`.
    #[serde(default)]
    pub series_files: Vec<String>,
    /// Tenants whose records of WAL segments up to `segment` are already in `files`
    /// though the checkpoint is lower (`Storage::flush_tenant`): replay skips them.
    /// Entries at or below the checkpoint are dropped. Absent in older manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flushed_ahead: Vec<FlushedAhead>,
    /// Each writer's current epoch (snapshots only, `cluster.md` "Epochs and
    /// fencing"): a committer whose epoch is below its entry has been replaced.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub epochs: BTreeMap<String, u64>,
    /// Each writer's WAL checkpoint (snapshots only, where every ingester has its own
    /// WAL): `wal_checkpoint` and `flushed_ahead` above are then empty in the stored
    /// object, and a process sees its own entry in them (`bucket.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checkpoints: BTreeMap<String, Checkpoint>,
    /// Objects a compaction or retention took out of `files` recently (snapshots only,
    /// `cluster.md` "Snapshot"): a querier one poll behind may still read them, so no
    /// process deletes one before `cluster.deletion_delay` after `unix_ms`, even one
    /// that restarted and lost the graveyard it put them in. Absent in older manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<Dropped>,
}

/// An object dropped from the manifest at `unix_ms` (milliseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    pub path: String,
    pub unix_ms: i64,
}

/// One writer's `wal_checkpoint` and `flushed_ahead`, in a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub wal: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flushed_ahead: Vec<FlushedAhead>,
}

/// A tenant flushed ahead of the WAL checkpoint, up to and including `segment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushedAhead {
    pub tenant: String,
    pub segment: u64,
}

impl Manifest {
    /// Whether `tenant`'s records of WAL segment `segment` are already in files.
    pub fn covers(&self, tenant: &str, segment: u64) -> bool {
        segment <= self.wal_checkpoint
            || self
                .flushed_ahead
                .iter()
                .any(|a| a.tenant == tenant && segment <= a.segment)
    }
}

const NAME: &str = "MANIFEST";

impl Manifest {
    pub fn load(dir: &Path) -> Result<Self, StorageError> {
        let path = dir.join(NAME);
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| StorageError::CorruptManifest {
                    path,
                    reason: e.to_string(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                version: 1,
                ..Default::default()
            }),
            Err(e) => Err(StorageError::io(&path, e)),
        }
    }

    pub fn commit(&self, dir: &Path) -> Result<(), StorageError> {
        let tmp = dir.join("MANIFEST.tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| StorageError::CorruptManifest {
            path: tmp.clone(),
            reason: e.to_string(),
        })?;
        write_durably(&tmp, &bytes)?;
        let path = dir.join(NAME);
        fs::rename(&tmp, &path).map_err(|e| StorageError::io(&path, e))?;
        sync_dir(dir)
    }
}

/// Writes a whole file and fsyncs it.
pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    use std::io::Write;
    let mut f = fs::File::create(path).map_err(|e| StorageError::io(path, e))?;
    f.write_all(bytes).map_err(|e| StorageError::io(path, e))?;
    f.sync_all().map_err(|e| StorageError::io(path, e))
}

/// Now and `delay` before now, in milliseconds since the epoch.
fn now_and_before(delay: std::time::Duration) -> (i64, i64) {
    let now = chrono::Utc::now().timestamp_millis();
    let window = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    (now, now.saturating_sub(window))
}

impl Manifest {
    /// Records `files` (each with its sidecars) as dropped now, and forgets the
    /// entries older than `delay`, whose objects may be gone already.
    pub(crate) fn record_dropped(&mut self, files: &[FileMeta], delay: std::time::Duration) {
        let (now, before) = now_and_before(delay);
        self.dropped.retain(|d| d.unix_ms >= before);
        self.dropped.extend(
            files
                .iter()
                .flat_map(FileMeta::objects)
                .map(|path| Dropped { path, unix_ms: now }),
        );
    }

    /// The objects dropped less than `delay` ago, which must stay readable.
    pub(crate) fn recently_dropped(
        &self,
        delay: std::time::Duration,
    ) -> std::collections::HashSet<&str> {
        let (_, before) = now_and_before(delay);
        self.dropped
            .iter()
            .filter(|d| d.unix_ms > before)
            .map(|d| d.path.as_str())
            .collect()
    }
}

impl FileMeta {
    /// The objects of this file: the data file and the sidecars it has.
    pub(crate) fn objects(&self) -> Vec<String> {
        let mut objects = vec![self.path.clone()];
        if self.trace_index {
            objects.push(crate::index::trace_index::sidecar_path(&self.path));
        }
        if self.text_index {
            objects.push(crate::index::fulltext::sidecar_path(&self.path));
        }
        if self.tag_index {
            objects.push(crate::index::tag_index::sidecar_path(&self.path));
        }
        objects
    }
}

/// Every object `manifest` lists: data files, their sidecars, series files.
pub(crate) fn live_paths(manifest: &Manifest) -> std::collections::HashSet<String> {
    let mut live: std::collections::HashSet<String> =
        manifest.files.iter().flat_map(FileMeta::objects).collect();
    live.extend(manifest.series_files.iter().cloned());
    live
}

/// Deletes objects under `tables/` and `series/` that the manifest does not list
/// (leftovers of an interrupted flush or compaction): every one for the single writer
/// of a local manifest (`owner` `None`), only this node's in a bucket (its earlier
/// epochs'), where another writer's unlisted file may be an upload whose commit is
/// still to come. With `keep_dropped` (other processes read the store), objects the
/// manifest records as dropped are left whatever their owner: a querier may still
/// read them, and the compactor's sweep deletes them once `cluster.deletion_delay`
/// has passed.
pub fn remove_orphans(
    blobs: &Blobs,
    manifest: &Manifest,
    owner: Option<&str>,
    keep_dropped: bool,
) -> Result<usize, StorageError> {
    let mut live = live_paths(manifest);
    if keep_dropped {
        live.extend(manifest.dropped.iter().map(|d| d.path.clone()));
    }
    let mut removed = blobs.remove_stale_uploads(owner)?;
    let mine = |p: &str| {
        owner.is_none()
            || p.rsplit('/')
                .next()
                .and_then(crate::files::blobs::file_owner)
                == owner
    };
    for prefix in ["tables", "series"] {
        for p in blobs.list(prefix)? {
            if !live.contains(&p) && mine(&p) {
                tracing::info!(file = %p, "removing file not in manifest (interrupted flush)");
                if blobs.delete(&p)? {
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_and_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(Manifest::load(d).unwrap().files.len(), 0);
        fs::create_dir_all(d.join("tables/default/logs")).unwrap();
        fs::write(d.join("tables/default/logs/1.parquet"), b"x").unwrap();
        fs::write(d.join("tables/default/logs/2.parquet"), b"y").unwrap();
        let m = Manifest {
            version: 1,
            wal_checkpoint: 3,
            next_file_seq: 2,
            files: vec![FileMeta {
                tenant: "default".into(),
                ..FileMeta::for_test("tables/default/logs/1.parquet")
            }],
            series_files: vec![],
            flushed_ahead: vec![],
            epochs: BTreeMap::new(),
            checkpoints: BTreeMap::new(),
            dropped: vec![],
        };
        m.commit(d).unwrap();
        assert_eq!(Manifest::load(d).unwrap(), m);
        // Another writer's unlisted file is not this node's to delete.
        assert_eq!(
            remove_orphans(&Blobs::local(d).unwrap(), &m, Some("n1"), true).unwrap(),
            0
        );
        fs::write(
            d.join("tables/default/logs/n1-000002-000000000007.parquet"),
            b"z",
        )
        .unwrap();
        fs::write(
            d.join("tables/default/logs/n1-x-000002-000000000007.parquet"),
            b"z",
        )
        .unwrap();
        assert_eq!(
            remove_orphans(&Blobs::local(d).unwrap(), &m, Some("n1"), true).unwrap(),
            1
        );
        assert!(
            d.join("tables/default/logs/n1-x-000002-000000000007.parquet")
                .exists()
        );
        fs::remove_file(d.join("tables/default/logs/n1-x-000002-000000000007.parquet")).unwrap();
        assert_eq!(
            remove_orphans(&Blobs::local(d).unwrap(), &m, None, true).unwrap(),
            1
        );
        assert!(d.join("tables/default/logs/1.parquet").exists());
        assert!(!d.join("tables/default/logs/2.parquet").exists());
    }

    /// A snapshot written before `dropped` existed still loads, as one that records
    /// no drop; a drop is recorded with its sidecars and forgotten after the delay.
    #[test]
    fn reads_a_snapshot_written_before_dropped_and_records_drops() {
        let old = include_str!("../../tests/fixtures/snapshot-before-dropped.json");
        let mut m: Manifest = serde_json::from_str(old).unwrap();
        assert!(m.dropped.is_empty());
        assert_eq!(m.epochs["compactor"], 3);
        assert_eq!(m.checkpoints["ingester-0"].wal, 17);
        let hour = std::time::Duration::from_secs(3600);
        let gone = m.files.remove(0);
        m.record_dropped(std::slice::from_ref(&gone), hour);
        let fts = crate::index::fulltext::sidecar_path(&gone.path);
        let recent = m.recently_dropped(hour);
        assert_eq!(recent.len(), 2);
        assert!(recent.contains(gone.path.as_str()) && recent.contains(fts.as_str()));
        let back: Manifest = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        // Past the delay: no longer protected, and forgotten at the next drop.
        assert!(m.recently_dropped(std::time::Duration::ZERO).is_empty());
        m.dropped.iter_mut().for_each(|d| d.unix_ms -= 7_200_000);
        m.record_dropped(&[], hour);
        assert!(m.dropped.is_empty());
    }

    /// A MANIFEST written before `flushed_ahead` existed still loads, as a manifest
    /// with no tenant flushed ahead.
    #[test]
    fn reads_a_manifest_written_before_flushed_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let old = include_str!("../../tests/fixtures/manifest-before-flushed-ahead.json");
        fs::write(dir.path().join(NAME), old).unwrap();
        let m = Manifest::load(dir.path()).unwrap();
        assert_eq!((m.wal_checkpoint, m.next_file_seq), (7, 12));
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.files[1].tenant, "shop");
        assert!(m.files[1].tag_index && m.files[0].text_index);
        assert_eq!(m.series_files, ["series/default/000000000011.series"]);
        assert!(m.flushed_ahead.is_empty());
        assert!(m.covers("shop", 7) && !m.covers("shop", 8));
        // And is written back without the new field while it is empty.
        m.commit(dir.path()).unwrap();
        let text = fs::read_to_string(dir.path().join(NAME)).unwrap();
        assert!(!text.contains("flushed_ahead"));
    }
}
