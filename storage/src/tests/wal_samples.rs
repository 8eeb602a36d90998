//! The WAL's samples records (code 5): series defined once, replay across flushes and
//! crashes, and the Arrow records of older WALs (`tests/fixtures/wal-v1`) still read.

use std::path::Path;

use super::*;
use crate::schema::{SampleRow, samples_batch};
use crate::series::samples;

/// (metric, instance, samples sorted by time) per series.
type Points = Vec<(String, String, Vec<(i64, f64)>)>;

const BASE: i64 = 1_700_000_000_000_000_000;

fn rows(tenant: &str, hosts: usize, step: i64) -> RecordBatch {
    let rows: Vec<SampleRow> = (0..hosts)
        .map(|k| SampleRow {
            metric: if k % 2 == 0 {
                "http_requests_total"
            } else {
                "node_load1"
            }
            .into(),
            labels: vec![
                ("instance".into(), format!("host-{k}")),
                ("job".into(), tenant.into()),
            ],
            timestamp_ns: BASE + step * 15_000_000_000,
            value: (k as f64) * 10.0 + step as f64 + 0.5,
        })
        .collect();
    samples_batch(&rows).unwrap()
}

/// Every sample of the tenant's series, by (metric, instance), sorted by time.
fn read_all(s: &Storage, tenant: &str) -> Points {
    let series = s.series().select(tenant, &[]);
    let mut ids: Vec<u64> = series.iter().map(|x| x.id).collect();
    ids.sort_unstable();
    let snap = s.snapshot(tenant, Signal::Metrics);
    let found = samples::read(s.inner.sample_files(), &snap, &ids, i64::MIN, i64::MAX).unwrap();
    let mut out: Vec<_> = series
        .iter()
        .map(|x| {
            let at = ids.binary_search(&x.id).unwrap();
            let mut v = found[at].clone();
            v.sort();
            (
                x.metric.clone(),
                x.get("instance").to_string(),
                v.iter().collect(),
            )
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

fn expected(hosts: usize, steps: std::ops::Range<i64>) -> Points {
    let mut out: Vec<_> = (0..hosts)
        .map(|k| {
            let metric = if k % 2 == 0 {
                "http_requests_total"
            } else {
                "node_load1"
            };
            let points = steps
                .clone()
                .map(|step| {
                    (
                        BASE + step * 15_000_000_000,
                        (k as f64) * 10.0 + step as f64 + 0.5,
                    )
                })
                .collect();
            (metric.to_string(), format!("host-{k}"), points)
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

fn segment_records(dir: &Path) -> Vec<wal::WalRecord> {
    let wal_dir = dir.join("wal");
    let mut out = Vec::new();
    for id in wal::list_segments(&wal_dir).unwrap() {
        let (records, damage) = wal::read_segment(&wal::segment_path(&wal_dir, id)).unwrap();
        assert_eq!(damage, None);
        out.extend(records);
    }
    out
}

#[tokio::test]
async fn a_series_is_defined_once_and_found_again_after_flush_and_crash() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Storage::open(dir.path(), cfg()).unwrap();
        s.append("default", Signal::Metrics, rows("default", 4, 0))
            .await
            .unwrap();
        s.append("default", Signal::Metrics, rows("default", 4, 1))
            .await
            .unwrap();
        let records = segment_records(dir.path());
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0].series.len(),
            4,
            "the first record defines the series"
        );
        assert!(records[1].series.is_empty(), "the second names them by id");
        assert_eq!(records[1].batch.num_rows(), 4);
        s.flush().await.unwrap();
        // Known from the series file only: recorded by id.
        s.append("default", Signal::Metrics, rows("default", 4, 2))
            .await
            .unwrap();
        // Two new series in the same record as two known ones.
        s.append("default", Signal::Metrics, rows("default", 6, 3))
            .await
            .unwrap();
        let records = segment_records(dir.path());
        assert_eq!(records.len(), 2, "the flush removed the first segment");
        assert!(records[0].series.is_empty());
        let defined: Vec<&str> = records[1]
            .series
            .iter()
            .map(|x| x.get("instance"))
            .collect();
        assert_eq!(defined, ["host-4", "host-5"]);
        // Dropped without close: a crash after the acknowledgements.
    }
    let s = Storage::open(dir.path(), cfg()).unwrap();
    let mut want = expected(4, 0..3);
    for (metric, instance, points) in expected(6, 3..4) {
        match want.iter_mut().find(|w| w.0 == metric && w.1 == instance) {
            Some(w) => w.2.extend(points),
            None => want.push((metric, instance, points)),
        }
    }
    want.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(read_all(&s, "default"), want);
    // A second crash after a flush of the replayed samples reads the same.
    s.flush().await.unwrap();
    drop(s);
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(read_all(&s, "default"), want);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `wal-v1` was written before samples records existed: its metrics are Arrow records
/// (code 3) with every row's name and labels. Tenant `default`: 4 series × 3 samples;
/// `team-b`: 2 × 3; and 3 log lines.
#[tokio::test]
async fn a_wal_of_arrow_metrics_records_still_replays() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wal-v1");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture, dir.path());
    let records = segment_records(dir.path());
    assert!(records.iter().all(|r| r.series.is_empty()));
    assert!(
        records
            .iter()
            .filter(|r| r.signal == Signal::Metrics)
            .all(|r| r.batch.column_by_name("labels").is_some()),
        "the fixture holds Arrow records with labels"
    );
    {
        let s = Storage::open(dir.path(), cfg()).unwrap();
        assert_eq!(read_all(&s, "default"), expected(4, 0..3));
        assert_eq!(read_all(&s, "team-b"), expected(2, 0..3));
        assert_eq!(rows_in(&s, "default"), (3, 0));
        // New samples go to a samples record beside the old ones.
        s.append("default", Signal::Metrics, rows("default", 4, 3))
            .await
            .unwrap();
    }
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(read_all(&s, "default"), expected(4, 0..4));
    s.flush().await.unwrap();
    s.close().await.unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(read_all(&s, "default"), expected(4, 0..4));
    assert_eq!(read_all(&s, "team-b"), expected(2, 0..3));
    assert_eq!(rows_in(&s, "default"), (0, 3));
}

#[tokio::test]
async fn samples_of_a_series_nobody_defined_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    let batch = |ids: Vec<u64>| {
        let n = ids.len();
        schema::stored_samples(ids, vec![BASE; n], vec![1.0; n]).unwrap()
    };
    let up = |id: u64| series::Series {
        id,
        metric: "up".into(),
        labels: vec![("job".into(), format!("j{id}"))],
    };
    let e = s
        .append_samples("default", vec![up(1)], batch(vec![1, 2, 2]))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StorageError::UndefinedSeries { count: 1 }),
        "{e}"
    );
    assert_eq!(s.snapshot("default", Signal::Metrics).batches.len(), 0);
    s.append_samples("default", vec![up(1), up(2)], batch(vec![1, 2]))
        .await
        .unwrap();
    // Known now: no definitions needed, extra ones ignored.
    s.append_samples("default", vec![up(1)], batch(vec![2]))
        .await
        .unwrap();
    let records = segment_records(dir.path());
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].series.len(), 2);
    assert!(records[1].series.is_empty());
    assert_eq!(s.series().len("default"), 2);
}
