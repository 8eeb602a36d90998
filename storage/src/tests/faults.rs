//! A crash at each storage fault point (`crate::faults`): the operation stops there
//! (`return(error)` mode), the storage is dropped without closing, as a crash leaves
//! it, and the reopened storage holds every acknowledged row once and no data file its
//! manifest does not list. `tests/e2e/test_crash_points.py` aborts the real server at
//! the same points.

use std::collections::BTreeSet;
use std::path::Path;

use super::*;

/// Every `.parquet` file under `tables/`, relative to the data directory.
fn data_files_on_disk(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.join("tables")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "parquet") {
                let rel = p.strip_prefix(dir).unwrap();
                out.insert(rel.to_string_lossy().into_owned());
            }
        }
    }
    out
}

fn listed(s: &Storage) -> BTreeSet<String> {
    s.files().into_iter().map(|f| f.path).collect()
}

/// 5 rows 30 days old and 7 + 7 rows of now, each batch in its own file, and 3 rows
/// of now in memory only.
async fn seeded(dir: &Path) -> Storage {
    let s = Storage::open(dir, cfg()).unwrap();
    let now = now_ns();
    let day = 86_400_000_000_000i64;
    for (n, ts) in [(5, now - 30 * day), (7, now), (7, now)] {
        s.append("default", Signal::Logs, logs_at(n, ts))
            .await
            .unwrap();
        s.flush().await.unwrap();
    }
    s.append("default", Signal::Logs, logs_at(3, now))
        .await
        .unwrap();
    assert_eq!(rows_in(&s, "default"), (3, 19));
    s
}

/// Arms `point`, runs `op`, which must fail there, and crashes; returns the reopened
/// storage after checking that its files on disk are exactly the listed ones.
async fn crash_at<F, T>(point: &str, op: F) -> (tempfile::TempDir, Storage)
where
    F: AsyncFnOnce(&Storage) -> Result<T, StorageError>,
{
    let dir = tempfile::tempdir().unwrap();
    let s = seeded(dir.path()).await;
    fail::cfg(point, "return(error)").unwrap();
    let Err(e) = op(&s).await else {
        panic!("{point} was not reached")
    };
    fail::remove(point);
    assert!(e.to_string().contains(point), "{e}");
    drop(s);
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(data_files_on_disk(dir.path()), listed(&s), "after {point}");
    (dir, s)
}

#[tokio::test]
async fn crash_after_a_flush_wrote_its_files() {
    let (_dir, s) = crash_at("flush.after_files", async |s| s.flush().await).await;
    assert_eq!(rows_in(&s, "default"), (3, 19));
    assert_eq!(s.files().len(), 3);
    s.flush().await.unwrap();
    assert_eq!(rows_in(&s, "default"), (0, 22));
}

#[tokio::test]
async fn crash_after_a_flush_committed_its_manifest() {
    let (dir, s) = crash_at("flush.after_manifest", async |s| s.flush().await).await;
    assert_eq!(rows_in(&s, "default"), (0, 22));
    drop(s);
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(rows_in(&s, "default"), (0, 22));
}

#[tokio::test]
async fn crash_after_a_merge_was_written() {
    let (_dir, s) = crash_at("compact.after_merge", async |s| s.compact_full(None).await).await;
    assert_eq!(rows_in(&s, "default"), (3, 19));
    assert_eq!(s.files().len(), 3);
}

#[tokio::test]
async fn crash_after_a_merge_was_committed() {
    let (_dir, s) = crash_at("compact.after_manifest", async |s| {
        s.compact_full(None).await
    })
    .await;
    assert_eq!(rows_in(&s, "default"), (3, 19));
    assert_eq!(s.files().len(), 2, "the two files of now merged into one");
}

#[tokio::test]
async fn crash_after_retention_committed_its_manifest() {
    let (_dir, s) = crash_at("retention.after_manifest", async |s| {
        s.apply_retention(now_ns()).await
    })
    .await;
    assert_eq!(
        rows_in(&s, "default"),
        (3, 14),
        "the 30-day-old file is gone"
    );
    assert_eq!(s.files().len(), 2);
}
