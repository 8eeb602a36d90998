//! The engine committing through bucket snapshots (`cluster.manifest = "bucket"`) on
//! a local directory: the same exactly-once guarantees as the `MANIFEST` file, the
//! carry-over of a directory that had one, and fencing of a twin.

use osprey_config::{ClusterConfig, ManifestMode};

use super::{cfg, logs, logs_at, now_ns, rows_in};
use crate::{Signal, Storage, StorageError};

fn bucket(node: &str) -> ClusterConfig {
    ClusterConfig {
        node_id: node.into(),
        manifest: ManifestMode::Bucket,
        ..Default::default()
    }
}

fn open(dir: &std::path::Path, node: &str) -> Storage {
    Storage::open_with(dir, cfg(), &bucket(node)).unwrap()
}

/// Three flushes of 10 lines each at `t`, `t + 1`, `t + 2`: three logs files.
async fn flush_three_files(s: &Storage, t: i64) {
    for i in 0..3 {
        s.append("default", Signal::Logs, logs_at(10, t + i))
            .await
            .unwrap();
        s.flush().await.unwrap();
    }
}

/// The snapshots in `dir`, by seq.
fn snapshots(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join("manifest"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| {
            serde_json::from_slice(&std::fs::read(dir.join("manifest").join(n)).unwrap()).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn flush_replay_and_compaction_are_exactly_once_through_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let t = now_ns();
    {
        let s = open(dir.path(), "n1");
        flush_three_files(&s, t).await;
        s.append("default", Signal::Logs, logs(5, "b"))
            .await
            .unwrap();
        // Dropped without close: like a crash after the acks.
    }
    assert!(!dir.path().join("MANIFEST").exists());
    let s = open(dir.path(), "n1");
    assert_eq!(rows_in(&s, "default"), (5, 30));
    // Data and series files carry the writer's node and epoch in their names.
    let names = |s: &Storage| -> Vec<String> {
        let snap = s.snapshot("default", Signal::Logs);
        snap.files
            .iter()
            .map(|f| f.path.rsplit('/').next().unwrap().to_string())
            .collect()
    };
    assert!(
        names(&s).iter().all(|n| n.starts_with("n1-000001-")),
        "{:?}",
        names(&s)
    );
    let stats = s.compact_full(None).await.unwrap();
    assert_eq!(stats.input_files, 3);
    assert_eq!(rows_in(&s, "default"), (5, 30));
    let merged = names(&s);
    assert!(
        merged.len() == 1 && merged[0].starts_with("n1-000002-"),
        "{merged:?}"
    );
    s.close().await.unwrap();
    let s = open(dir.path(), "n1");
    assert_eq!(rows_in(&s, "default"), (0, 35));
    drop(s);

    // One snapshot per claim and per commit, numbered from 1, each naming its commit
    // and the node's epoch at the time (one claim per open).
    let all = snapshots(dir.path());
    let seqs: Vec<u64> = all.iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let epochs: Vec<u64> = all
        .iter()
        .map(|v| v["epochs"]["n1"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs.first(), Some(&1));
    assert_eq!(epochs.last(), Some(&3));
    assert!(epochs.windows(2).all(|w| w[0] <= w[1]));
    // The checkpoint is kept under the node id, not at the top.
    let last = all.last().unwrap();
    assert!(
        last["checkpoints"]["n1"]["wal"].as_u64().unwrap() > 0,
        "{last}"
    );
    assert_eq!(last["wal_checkpoint"], 0);
    let ids: std::collections::HashSet<&str> = all
        .iter()
        .map(|v| v["commit_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), all.len(), "every commit has its own id");
}

#[tokio::test]
async fn a_directory_with_a_manifest_file_is_carried_over_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Storage::open(dir.path(), cfg()).unwrap();
        s.append("default", Signal::Logs, logs(8, "a"))
            .await
            .unwrap();
        s.flush().await.unwrap();
        s.append("default", Signal::Logs, logs(3, "b"))
            .await
            .unwrap();
        s.close().await.unwrap();
    }
    let s = open(dir.path(), "n1");
    assert_eq!(rows_in(&s, "default"), (0, 11));
    drop(s);
    assert!(!dir.path().join("MANIFEST").exists());
    assert!(dir.path().join("MANIFEST.migrated").exists());
    assert_eq!(
        snapshots(dir.path())[0]["files"].as_array().unwrap().len(),
        2
    );
    // Back to the local file would start from nothing and delete every data file as
    // an orphan: refused, naming the setting.
    let e = Storage::open(dir.path(), cfg()).err().unwrap();
    assert!(
        matches!(
            e,
            StorageError::Config {
                key: "cluster.manifest",
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("cluster.manifest = \"bucket\""),
        "{e}"
    );
    assert_eq!(rows_in(&open(dir.path(), "n1"), "default"), (0, 11));
}

/// A second process with the same node id claims a newer epoch; the first one's next
/// commit finds it and is fenced: it commits nothing and refuses writes from then on.
#[tokio::test]
async fn a_twin_with_the_same_node_id_fences_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path(), "n1");
    first
        .append("default", Signal::Logs, logs(4, "a"))
        .await
        .unwrap();
    first.flush().await.unwrap();
    let before = snapshots(dir.path()).len();
    // The twin: a second process on the same volume and bucket (a paused pod's
    // replacement). It claims epoch 2 on open.
    let twin = open(dir.path(), "n1");
    assert!(!first.is_fenced());
    first
        .append("default", Signal::Logs, logs(2, "b"))
        .await
        .unwrap();
    let e = first.flush().await.unwrap_err();
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
    assert!(first.is_fenced() && !first.is_healthy());
    let refused = first
        .append("default", Signal::Logs, logs(1, "c"))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("fenced"), "{refused}");
    // Nothing of the fenced process was committed after the twin's claim.
    let after = snapshots(dir.path());
    assert_eq!(after.len(), before + 1);
    assert!(after.iter().all(|v| v["epochs"]["n1"].as_u64() <= Some(2)));
    assert_eq!(after.last().unwrap()["epochs"]["n1"], 2);
    // The twin commits on.
    twin.flush().await.unwrap();
    drop(twin);
    // Another node id is not fenced by it.
    let other = open(dir.path(), "n2");
    assert!(!other.is_fenced());
}

/// A crash between a snapshot's create and the WAL's deletion replays nothing twice,
/// as with the `MANIFEST` file.
#[tokio::test]
async fn crash_between_snapshot_and_wal_delete_does_not_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    super::crash_between_commit_and_wal_delete(dir.path(), || open(dir.path(), "n1")).await;
}

/// A writer that restarts has lost its graveyard, but the files it dropped stay
/// readable for `deletion_delay` after the commit that dropped them (a querier one
/// poll behind still lists them): neither the orphan removal on open nor the sweep
/// deletes them sooner, however old the objects are. Found by the cluster fault
/// suite: a compactor killed while it merged deleted the inputs of its previous
/// merge on restart, and a lagging querier answered short.
#[tokio::test]
async fn a_restarted_writer_keeps_what_it_dropped_for_the_deletion_delay() {
    use std::time::{Duration, SystemTime};
    let dir = tempfile::tempdir().unwrap();
    let t = now_ns();
    let cluster = in_a_cluster("compactor");
    let inputs = merge_then_crash(dir.path(), &cluster, t).await;
    // The objects are an hour old: only the drop's time protects them.
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for p in &inputs {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
    }
    let stray = dir
        .path()
        .join("tables/default/logs/n9-000001-000000000099.parquet");
    std::fs::write(&stray, b"an upload whose commit never came").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stray)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();

    let s = Storage::open_with(dir.path(), cfg(), &cluster).unwrap();
    assert!(inputs.iter().all(|p| p.exists()), "removed on open");
    let last = snapshots(dir.path()).pop().unwrap();
    let dropped: Vec<&str> = last["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    for p in &inputs {
        let rel = p.strip_prefix(dir.path()).unwrap().to_str().unwrap();
        assert!(dropped.contains(&rel), "{rel} not in {last}");
    }
    // Swept with a 30-minute grace: the stray goes, the recent drops stay.
    assert_eq!(s.sweep_orphans(Duration::from_secs(1800)).await.unwrap(), 1);
    assert!(!stray.exists());
    assert!(inputs.iter().all(|p| p.exists()), "swept within the delay");
    assert_eq!(rows_in(&s, "default"), (0, 30));
    // Once the delay is over they go.
    let swept = s.sweep_orphans(Duration::ZERO).await.unwrap();
    assert_eq!(swept, dropped.len(), "the files and their sidecars");
    assert!(inputs.iter().all(|p| !p.exists()));
    assert_eq!(rows_in(&s, "default"), (0, 30));
}

/// A single node committing snapshots (no `cluster.ingesters`) has no reader but
/// itself: what it dropped before a crash is removed on open, as with the local file.
#[tokio::test]
async fn a_single_node_removes_what_it_dropped_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = merge_then_crash(dir.path(), &bucket("n1"), now_ns()).await;
    let last = snapshots(dir.path()).pop().unwrap();
    assert!(last.get("dropped").is_none(), "{last}");
    let s = open(dir.path(), "n1");
    assert!(inputs.iter().all(|p| !p.exists()), "kept on open");
    assert_eq!(rows_in(&s, "default"), (0, 30));
}

/// `node` of a cluster with one ingester listed (none runs: the storage alone is
/// under test).
fn in_a_cluster(node: &str) -> ClusterConfig {
    ClusterConfig {
        ingesters: vec!["127.0.0.1:1".into()],
        ..bucket(node)
    }
}

/// Three files flushed at `t` and merged into one, then the process dropped without
/// closing, as in a crash (its graveyard, holding the inputs, is lost). Returns the
/// inputs' paths.
async fn merge_then_crash(
    dir: &std::path::Path,
    cluster: &ClusterConfig,
    t: i64,
) -> Vec<std::path::PathBuf> {
    let s = Storage::open_with(dir, cfg(), cluster).unwrap();
    flush_three_files(&s, t).await;
    let snap = s.snapshot("default", Signal::Logs);
    let inputs = snap.files.iter().map(|f| dir.join(&f.path)).collect();
    assert_eq!(s.compact_full(None).await.unwrap().input_files, 3);
    inputs
}
