//! The commit point of a cluster in a bucket (`storage/docs/format/cluster.md`,
//! "Commit"): numbered full snapshots `manifest/<seq:020>.json`, each created once
//! with a conditional create (`PutMode::Create`: S3 `If-None-Match: *`; a hard link
//! on a local directory), so of two writers committing the same `seq` exactly one
//! wins. Each snapshot names the commit that wrote it (`commit_id`), which is how a
//! commit whose answer was lost (a timeout, a 5xx retried after it landed, S3's 409)
//! is recognised as ours when it is read back. Snapshots at or below the highest
//! garbage-collection marker `manifest/gc-<seq:020>` may be deleted, so a create at
//! such a `seq` (a writer stalled while they were pruned) is not a commit.
//!
//! The engine commits through it with `cluster.manifest = "bucket"`
//! (`manifest/bucket.rs`). On a local directory a created snapshot is fsynced with its
//! directory, which `object_store` does not do.

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde_json::Value;

use crate::StorageError;

/// How often an attempt whose outcome is unknown is tried again.
const ATTEMPTS: usize = 3;

/// What became of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    /// The snapshot is `seq`.
    Committed { seq: u64 },
    /// Another commit holds `seq`: read the head again, re-apply, commit at the next.
    Conflict { seq: u64 },
    /// `seq` is at or below the garbage-collection boundary `boundary`: not a commit.
    BehindBoundary { seq: u64, boundary: u64 },
}

/// The snapshots under one prefix of a store.
pub struct Snapshots {
    store: Arc<dyn ObjectStore>,
    dir: Path,
    /// The directory a local store keeps its objects in, to fsync a created snapshot.
    local: Option<std::path::PathBuf>,
}

impl Snapshots {
    /// The snapshots under `prefix` (`manifest/` below it).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        let dir = match prefix.trim_matches('/') {
            "" => Path::from("manifest"),
            p => Path::from(format!("{p}/manifest")),
        };
        Snapshots {
            store,
            dir,
            local: None,
        }
    }

    /// Snapshots of a local store rooted at `root`: each created one is fsynced, and
    /// its directory after it, before the commit counts.
    pub fn fsync_under(mut self, root: std::path::PathBuf) -> Self {
        self.local = Some(root);
        self
    }

    fn sync(&self, path: &Path) -> Result<(), StorageError> {
        let Some(root) = &self.local else {
            return Ok(());
        };
        let file = root.join(path.as_ref());
        let f = std::fs::File::open(&file).map_err(|e| StorageError::io(&file, e))?;
        f.sync_all().map_err(|e| StorageError::io(&file, e))?;
        match file.parent() {
            Some(parent) => crate::wal::sync_dir(parent),
            None => Ok(()),
        }
    }

    fn path(&self, name: &str) -> Path {
        self.dir.clone().join(name)
    }

    fn snapshot_path(&self, seq: u64) -> Path {
        self.path(&format!("{seq:020}.json"))
    }

    fn err(&self, path: &Path, e: object_store::Error) -> StorageError {
        StorageError::ObjectStore {
            path: path.to_string(),
            source: Box::new(e),
        }
    }

    /// Checks that the store refuses a second create of one name, as the protocol needs
    /// (some S3-compatible stores ignore `If-None-Match` and would let two writers
    /// overwrite each other silently).
    pub async fn probe(&self, node_id: &str) -> Result<(), StorageError> {
        let path = self.path(&format!("probe-{node_id}-{}", uuid_like()));
        let create = || {
            self.store.put_opts(
                &path,
                PutPayload::from_static(b"probe"),
                PutOptions::from(PutMode::Create),
            )
        };
        create().await.map_err(|e| self.err(&path, e))?;
        let second = create().await;
        let _ = self.store.delete(&path).await;
        match second {
            Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Ok(_) => Err(StorageError::Config {
                key: "storage.object_store",
                message: "the store let one object be created twice: it ignores conditional creates (S3 If-None-Match), which a cluster's manifest needs".into(),
            }),
            Err(e) => Err(self.err(&path, e)),
        }
    }

    /// The highest snapshot `seq` listed, `None` when there is none.
    pub async fn head(&self) -> Result<Option<u64>, StorageError> {
        self.highest(|name| name.strip_suffix(".json")).await
    }

    /// The highest number among the names `number_of` reads one from.
    async fn highest(
        &self,
        number_of: impl Fn(&str) -> Option<&str>,
    ) -> Result<Option<u64>, StorageError> {
        let names: Vec<_> = self
            .store
            .list(Some(&self.dir))
            .try_collect()
            .await
            .map_err(|e| self.err(&self.dir, e))?;
        Ok(names
            .iter()
            .filter_map(|m| m.location.filename())
            .filter_map(|f| number_of(f)?.parse::<u64>().ok())
            .max())
    }

    /// Snapshot `seq`, `None` when it does not exist.
    pub async fn read(&self, seq: u64) -> Result<Option<Value>, StorageError> {
        let path = self.snapshot_path(seq);
        let bytes = match self.store.get(&path).await {
            Ok(r) => r.bytes().await.map_err(|e| self.err(&path, e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(&path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StorageError::CorruptManifest {
                path: path.to_string().into(),
                reason: e.to_string(),
            })
    }

    /// Commits `body` (a JSON object) as snapshot `seq` under `commit_id`, which must
    /// be the same on every attempt of one commit and unique across commits.
    pub async fn commit(
        &self,
        seq: u64,
        commit_id: &str,
        mut body: Value,
    ) -> Result<Commit, StorageError> {
        let path = self.snapshot_path(seq);
        let Some(object) = body.as_object_mut() else {
            return Err(StorageError::Layout("a snapshot is a JSON object".into()));
        };
        object.insert("seq".into(), seq.into());
        object.insert("commit_id".into(), commit_id.into());
        let bytes = serde_json::to_vec(&body).map_err(|e| StorageError::Layout(e.to_string()))?;
        let payload = PutPayload::from(bytes);
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let put = self
                .store
                .put_opts(&path, payload.clone(), PutOptions::from(PutMode::Create))
                .await;
            match put {
                Ok(_) => {
                    self.sync(&path)?;
                    return self.past_boundary(seq).await;
                }
                Err(e @ object_store::Error::NotImplemented { .. }) => {
                    return Err(self.err(&path, e));
                }
                // Exists: someone's, or this commit's own earlier attempt. Unknown
                // (a timeout, a 5xx): read back to tell.
                Err(e) => {
                    match self.read(seq).await? {
                        Some(s)
                            if s.get("commit_id").and_then(Value::as_str) == Some(commit_id) =>
                        {
                            self.sync(&path)?;
                            return self.past_boundary(seq).await;
                        }
                        Some(_) => return Ok(Commit::Conflict { seq }),
                        // Nothing there: the attempt did not land; try again.
                        None => last = Some(e),
                    }
                }
            }
        }
        Err(self.err(
            &path,
            last.unwrap_or_else(|| object_store::Error::Generic {
                store: "snapshots",
                source: "no attempt made".into(),
            }),
        ))
    }

    /// `Committed` unless `seq` is at or below the garbage-collection boundary.
    async fn past_boundary(&self, seq: u64) -> Result<Commit, StorageError> {
        let boundary = self.gc_boundary().await?;
        Ok(match boundary {
            Some(b) if seq <= b => Commit::BehindBoundary { seq, boundary: b },
            _ => Commit::Committed { seq },
        })
    }

    /// Marks snapshots up to `seq` as deletable; written before any is deleted.
    pub async fn mark_gc(&self, seq: u64) -> Result<(), StorageError> {
        let path = self.path(&format!("gc-{seq:020}"));
        let put = self
            .store
            .put_opts(
                &path,
                PutPayload::from_static(b""),
                PutOptions::from(PutMode::Create),
            )
            .await;
        match put {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(self.err(&path, e)),
        }
    }

    /// Deletes the snapshots that are neither among the newest `keep` nor younger
    /// than `min_age`, behind a boundary marker written first (and the markers below
    /// it). Returns how many snapshots it deleted.
    pub async fn prune(
        &self,
        keep: u64,
        min_age: std::time::Duration,
    ) -> Result<usize, StorageError> {
        let listed: Vec<_> = self
            .store
            .list(Some(&self.dir))
            .try_collect()
            .await
            .map_err(|e| self.err(&self.dir, e))?;
        let seq_of = |m: &object_store::ObjectMeta| {
            let name = m.location.filename()?;
            name.strip_suffix(".json")?.parse::<u64>().ok()
        };
        let Some(head) = listed.iter().filter_map(seq_of).max() else {
            return Ok(0);
        };
        let age = chrono::TimeDelta::from_std(min_age).unwrap_or(chrono::TimeDelta::MAX);
        let cutoff = chrono::Utc::now()
            .checked_sub_signed(age)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let doomed: Vec<(u64, Path)> = listed
            .iter()
            .filter(|m| m.last_modified < cutoff)
            .filter_map(|m| Some((seq_of(m)?, m.location.clone())))
            .filter(|(seq, _)| seq.saturating_add(keep) <= head)
            .collect();
        let Some(boundary) = doomed.iter().map(|(seq, _)| *seq).max() else {
            return Ok(0);
        };
        self.mark_gc(boundary).await?;
        for (_, path) in &doomed {
            match self.store.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.err(path, e)),
            }
        }
        // Only the highest marker matters.
        for m in &listed {
            let below = m
                .location
                .filename()
                .and_then(|n| n.strip_prefix("gc-"))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|b| b < boundary);
            if below {
                let _ = self.store.delete(&m.location).await;
            }
        }
        Ok(doomed.len())
    }

    /// The highest garbage-collection marker, if any.
    pub async fn gc_boundary(&self) -> Result<Option<u64>, StorageError> {
        self.highest(|name| name.strip_prefix("gc-")).await
    }
}

/// A name part unique enough for a probe object (time and process).
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::local::LocalFileSystem;
    use serde_json::json;

    fn store(dir: &std::path::Path) -> Snapshots {
        let fs = LocalFileSystem::new_with_prefix(dir).unwrap();
        Snapshots::new(Arc::new(fs), "cluster")
    }

    #[tokio::test]
    async fn of_two_commits_at_one_seq_exactly_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.probe("n0").await.unwrap();
        assert_eq!(s.head().await.unwrap(), None);
        let (a, b) = tokio::join!(
            s.commit(1, "commit-a", json!({"files": ["a"]})),
            s.commit(1, "commit-b", json!({"files": ["b"]})),
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| **o == Commit::Committed { seq: 1 })
                .count(),
            1,
            "{outcomes:?}"
        );
        assert!(outcomes.contains(&Commit::Conflict { seq: 1 }));
        let winner = s.read(1).await.unwrap().unwrap();
        let id = winner["commit_id"].as_str().unwrap();
        let files = if id == "commit-a" { "a" } else { "b" };
        assert_eq!(winner["files"], json!([files]));
        assert_eq!(winner["seq"], json!(1));
        // The loser re-applies on the head and commits the next.
        assert_eq!(s.head().await.unwrap(), Some(1));
        assert_eq!(
            s.commit(2, "commit-c", json!({"files": ["a", "b"]}))
                .await
                .unwrap(),
            Commit::Committed { seq: 2 }
        );
        assert_eq!(s.head().await.unwrap(), Some(2));
    }

    /// A commit whose first attempt landed but whose answer was lost is retried with
    /// the same id: the store says the name exists, the read-back finds our id.
    #[tokio::test]
    async fn a_commit_whose_answer_was_lost_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        assert_eq!(
            s.commit(7, "mine", json!({})).await.unwrap(),
            Commit::Committed { seq: 7 }
        );
        // The retry of the same commit.
        assert_eq!(
            s.commit(7, "mine", json!({})).await.unwrap(),
            Commit::Committed { seq: 7 }
        );
        // Anyone else's commit at 7 is a conflict.
        assert_eq!(
            s.commit(7, "theirs", json!({})).await.unwrap(),
            Commit::Conflict { seq: 7 }
        );
    }

    /// Snapshots up to a marker may be deleted, so a create at such a seq (a writer
    /// stalled while they were pruned) is not a commit.
    #[tokio::test]
    async fn a_commit_behind_the_gc_boundary_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        for seq in 1..=3 {
            s.commit(seq, &format!("c{seq}"), json!({})).await.unwrap();
        }
        s.mark_gc(2).await.unwrap();
        s.mark_gc(2).await.unwrap();
        assert_eq!(s.gc_boundary().await.unwrap(), Some(2));
        let stale = std::fs::remove_file(
            dir.path()
                .join("cluster/manifest")
                .join(format!("{:020}.json", 2)),
        );
        stale.unwrap();
        assert_eq!(
            s.commit(2, "late", json!({})).await.unwrap(),
            Commit::BehindBoundary {
                seq: 2,
                boundary: 2
            }
        );
        assert_eq!(
            s.commit(4, "c4", json!({})).await.unwrap(),
            Commit::Committed { seq: 4 }
        );
        // Markers and snapshots are told apart.
        assert_eq!(s.head().await.unwrap(), Some(4));
    }

    /// Pruning keeps the newest snapshots and the young ones, and marks the boundary
    /// before it deletes, so the head and commits above it are unaffected.
    #[tokio::test]
    async fn prune_keeps_the_newest_behind_a_marker() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).fsync_under(dir.path().to_path_buf());
        for seq in 1..=10 {
            s.commit(seq, &format!("c{seq}"), json!({})).await.unwrap();
        }
        // Everything is younger than an hour: nothing goes.
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(s.prune(3, hour).await.unwrap(), 0);
        assert_eq!(s.gc_boundary().await.unwrap(), None);
        assert_eq!(s.prune(3, std::time::Duration::ZERO).await.unwrap(), 7);
        assert_eq!(s.gc_boundary().await.unwrap(), Some(7));
        assert_eq!(s.read(7).await.unwrap(), None);
        assert!(s.read(8).await.unwrap().is_some());
        assert_eq!(s.head().await.unwrap(), Some(10));
        for seq in 11..=14 {
            s.commit(seq, &format!("c{seq}"), json!({})).await.unwrap();
        }
        assert_eq!(s.prune(3, std::time::Duration::ZERO).await.unwrap(), 4);
        let markers: Vec<_> = std::fs::read_dir(dir.path().join("cluster/manifest"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("gc-"))
            .collect();
        assert_eq!(markers, [format!("gc-{:020}", 11)]);
    }

    #[tokio::test]
    async fn a_snapshot_is_an_object() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let e = s.commit(1, "x", json!([1, 2])).await.unwrap_err();
        assert!(e.to_string().contains("JSON object"), "{e}");
        assert_eq!(s.read(9).await.unwrap(), None);
    }
}
