//! Engine-level tests: read-your-writes, flush, replay, exactly-once across restarts.

use super::*;
use crate::schema::{LogRow, logs_batch};

mod batch_ids;
mod bucket_manifest;
mod by_trace;
mod faults;
mod wal_samples;

pub(crate) fn cfg() -> StorageConfig {
    StorageConfig::default()
}

pub(crate) fn logs(n: usize, tag: &str) -> RecordBatch {
    let rows: Vec<LogRow> = (0..n)
        .map(|i| LogRow {
            service: format!("svc{}", i % 3),
            timestamp_ns: i as i64,
            body: format!("{tag} {i}"),
            ..Default::default()
        })
        .collect();
    logs_batch(&rows).unwrap()
}

fn rows_in(s: &Storage, tenant: &str) -> (usize, u64) {
    let snap = s.snapshot(tenant, Signal::Logs);
    let mem = snap.batches.iter().map(|b| b.num_rows()).sum();
    let files = snap.files.iter().map(|m| m.rows).sum();
    (mem, files)
}

#[tokio::test]
async fn read_your_writes_flush_and_replay_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Storage::open(dir.path(), cfg()).unwrap();
        s.append("default", Signal::Logs, logs(10, "a"))
            .await
            .unwrap();
        assert_eq!(rows_in(&s, "default"), (10, 0));
        let st = s.flush().await.unwrap();
        assert_eq!(st.rows, 10);
        assert_eq!(rows_in(&s, "default"), (0, 10));
        s.append("default", Signal::Logs, logs(5, "b"))
            .await
            .unwrap();
        s.append("other", Signal::Logs, logs(7, "c")).await.unwrap();
        assert_eq!(rows_in(&s, "default"), (5, 10));
        assert_eq!(rows_in(&s, "other"), (7, 0));
        // Dropped without close: like a crash after the acks.
    }
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(rows_in(&s, "default"), (5, 10));
    assert_eq!(rows_in(&s, "other"), (7, 0));
    s.flush().await.unwrap();
    assert_eq!(rows_in(&s, "default"), (0, 15));
    s.close().await.unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(rows_in(&s, "default"), (0, 15));
    assert_eq!(rows_in(&s, "other"), (0, 7));
}

#[tokio::test]
async fn a_tenants_flush_leaves_other_tenants_in_memory_and_replays_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Storage::open(dir.path(), cfg()).unwrap();
        s.append("a", Signal::Logs, logs(6, "a1")).await.unwrap();
        s.append("b", Signal::Logs, logs(4, "b1")).await.unwrap();
        // A tenant with nothing buffered flushes nothing.
        assert_eq!(s.flush_tenant("c").await.unwrap().rows, 0);
        let st = s.flush_tenant("b").await.unwrap();
        assert_eq!((st.rows, st.files), (4, 1));
        assert_eq!(rows_in(&s, "b"), (0, 4));
        assert_eq!(rows_in(&s, "a"), (6, 0), "a's rows stay in memory");
        assert!(s.buffered_bytes_of("a") > 0);
        assert_eq!(s.buffered_bytes_of("b"), 0);
        assert!(s.files().iter().all(|f| f.tenant == "b"));
        // Not flushed at once by the background flusher's rule either.
        assert!(!s.flush_due());
        s.append("b", Signal::Logs, logs(2, "b2")).await.unwrap();
        s.append("a", Signal::Logs, logs(1, "a2")).await.unwrap();
        // Dropped without close: like a crash. b's flushed rows must not come back
        // from the WAL; b's later rows and all of a's must.
    }
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(rows_in(&s, "a"), (7, 0));
    assert_eq!(rows_in(&s, "b"), (2, 4));
    let st = s.flush_tenant("b").await.unwrap();
    assert_eq!(st.rows, 2);
    assert_eq!(rows_in(&s, "b"), (0, 6));
    // The whole flush covers what is left and clears the flushed-ahead marks.
    s.flush().await.unwrap();
    assert_eq!(rows_in(&s, "a"), (0, 7));
    assert!(Manifest::load(dir.path()).unwrap().flushed_ahead.is_empty());
    s.close().await.unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(rows_in(&s, "a"), (0, 7));
    assert_eq!(rows_in(&s, "b"), (0, 6));
}

#[tokio::test]
async fn a_tenants_flush_of_a_newer_memtable_keeps_the_wal_an_older_one_needs() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Storage::open(dir.path(), cfg()).unwrap();
        s.append("a", Signal::Logs, logs(3, "a1")).await.unwrap();
        s.append("b", Signal::Logs, logs(2, "b1")).await.unwrap();
        s.flush_tenant("b").await.unwrap();
        // a's rows wait in an older, partial frozen memtable; b's new rows are the
        // only ones of the next. Flushing b must not move the WAL checkpoint past a's.
        s.append("b", Signal::Logs, logs(4, "b2")).await.unwrap();
        assert_eq!(s.flush_tenant("b").await.unwrap().rows, 4);
        // Dropped without close: like a crash.
    }
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(rows_in(&s, "a"), (3, 0));
    assert_eq!(rows_in(&s, "b"), (0, 6));
}

#[tokio::test]
async fn the_writer_freezes_a_memtable_at_flush_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.flush_size = bytesize_kib(1);
    let s = Storage::open(dir.path(), c).unwrap();
    for i in 0..3 {
        s.append("default", Signal::Logs, logs(50, &format!("r{i}")))
            .await
            .unwrap();
    }
    // No flusher runs here: each batch filled the active memtable, which the writer
    // froze right after acknowledging it, so a flush writes three files of one batch
    // each, not one of three.
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.frozen().unwrap().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(s.frozen().unwrap().len(), 3);
    let st = s.flush().await.unwrap();
    assert_eq!((st.files, st.rows), (3, 150));
    assert_eq!(rows_in(&s, "default"), (0, 150));
}

#[tokio::test]
async fn a_tenants_compaction_merges_its_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    for i in 0..2 {
        for t in ["a", "b"] {
            s.append(t, Signal::Logs, logs(3, &format!("{t}{i}")))
                .await
                .unwrap();
        }
        s.flush().await.unwrap();
    }
    let count = |t: &str| s.files().iter().filter(|f| f.tenant == t).count();
    assert_eq!((count("a"), count("b")), (2, 2));
    let st = s.compact_full(Some("b")).await.unwrap();
    assert_eq!(st.merges, 1);
    assert_eq!((count("a"), count("b")), (2, 1));
    assert_eq!(rows_in(&s, "b"), (0, 6));
}

#[tokio::test]
async fn crash_between_manifest_and_wal_delete_does_not_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    crash_between_commit_and_wal_delete(dir.path(), || Storage::open(dir.path(), cfg()).unwrap())
        .await;
}

/// A crash after a flush's commit but before it deleted the WAL segment it covers
/// replays nothing twice (`open` is a restart on `dir`).
async fn crash_between_commit_and_wal_delete(dir: &std::path::Path, open: impl Fn() -> Storage) {
    let s = open();
    s.append("default", Signal::Logs, logs(4, "x"))
        .await
        .unwrap();
    // Keep a copy of the WAL segment as it was before the flush deleted it.
    let wal_dir = dir.join("wal");
    let seg = wal::list_segments(&wal_dir).unwrap()[0];
    let saved = std::fs::read(wal::segment_path(&wal_dir, seg)).unwrap();
    s.flush().await.unwrap();
    s.close().await.unwrap();
    std::fs::write(wal::segment_path(&wal_dir, seg), saved).unwrap();
    let s = open();
    assert_eq!(rows_in(&s, "default"), (0, 4));
}

#[tokio::test]
async fn concurrent_appends_are_all_visible() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.append("default", Signal::Logs, logs(3, &format!("t{i}")))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(rows_in(&s, "default"), (96, 0));
    drop(s);
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(rows_in(&s, "default"), (96, 0));
}

#[tokio::test]
async fn backpressure_and_bad_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.memtable_limit = bytesize_kib(64);
    c.flush_size = bytesize_kib(64);
    let s = Storage::open(dir.path(), c).unwrap();
    let mut refused = false;
    for _ in 0..200 {
        match s.append("default", Signal::Logs, logs(100, "p")).await {
            Ok(()) => {}
            Err(StorageError::Backpressure { .. }) => {
                refused = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused, "memtable limit never enforced");
    assert!(matches!(
        s.append("../x", Signal::Logs, logs(1, "p")).await,
        Err(StorageError::InvalidTenant(_))
    ));
}

#[tokio::test]
async fn a_batch_larger_than_the_memtable_limit_is_refused_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.memtable_limit = bytesize_kib(64);
    c.flush_size = bytesize_kib(64);
    let s = Storage::open(dir.path(), c).unwrap();
    // Empty memtables: still no room for it, ever (not Backpressure, which is retried).
    match s.append("default", Signal::Logs, logs(5_000, "p")).await {
        Err(e @ StorageError::BatchTooLarge { rows: 5_000, .. }) => {
            assert!(
                e.to_string()
                    .contains("storage.memtable_limit (65536 bytes)"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.buffered_bytes(), 0);
}

fn bytesize_kib(n: u64) -> bytesize::ByteSize {
    bytesize::ByteSize::kib(n)
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap()
}

fn logs_at(n: usize, ts: i64) -> RecordBatch {
    let rows: Vec<LogRow> = (0..n)
        .map(|i| LogRow {
            service: "svc".into(),
            timestamp_ns: ts + i as i64,
            body: format!("at {i}"),
            ..Default::default()
        })
        .collect();
    logs_batch(&rows).unwrap()
}

#[tokio::test]
async fn compaction_merges_small_files_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    let t = now_ns();
    for i in 0..6 {
        s.append("default", Signal::Logs, logs_at(10, t + i))
            .await
            .unwrap();
        s.flush().await.unwrap();
    }
    assert_eq!(s.snapshot("default", Signal::Logs).files.len(), 6);
    let stats = s.compact(None).await.unwrap();
    assert_eq!((stats.merges, stats.input_files), (1, 6));
    let snap = s.snapshot("default", Signal::Logs);
    assert_eq!(snap.files.len(), 1);
    assert_eq!(rows_in(&s, "default"), (0, 60));
    // Inputs (and their full-text indexes) stay on disk for readers until garbage
    // collection; the merged file has its own index.
    assert_eq!(s.collect_garbage(true), 12);
    let live = dir
        .path()
        .join(&s.snapshot("default", Signal::Logs).files[0].path);
    let mut left: Vec<_> = std::fs::read_dir(live.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    left.sort();
    let fts = std::path::PathBuf::from(format!("{}.fts", live.display()));
    assert_eq!(left, vec![live.clone(), fts]);
    drop(s);
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(rows_in(&s, "default"), (0, 60));
    let file = &s.snapshot("default", Signal::Logs).files[0];
    let batches = s.read_rows(file, None, None).unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 60);
}

#[tokio::test]
async fn retention_drops_expired_partitions_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    let now = now_ns();
    let day = 86_400_000_000_000i64;
    s.append("default", Signal::Logs, logs_at(5, now - 30 * day))
        .await
        .unwrap();
    s.append("default", Signal::Logs, logs_at(7, now))
        .await
        .unwrap();
    s.flush().await.unwrap();
    assert_eq!(s.snapshot("default", Signal::Logs).files.len(), 2);
    assert_eq!(s.apply_retention(now).await.unwrap(), 1);
    assert_eq!(rows_in(&s, "default"), (0, 7));
    drop(s);
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(rows_in(&s, "default"), (0, 7));
}

#[tokio::test]
async fn trace_lookup_opens_only_files_with_the_trace() {
    use crate::schema::{SpanRow, spans_batch};
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    let t = now_ns();
    for tid in ["aa", "bb", "cc"] {
        let rows: Vec<SpanRow> = (0..3)
            .map(|i| SpanRow {
                service: "svc".into(),
                // Ids differ in their first bytes, as random ids do: the sidecar keeps
                // 6-byte prefixes.
                trace_id: format!("{tid:0<32}"),
                span_id: format!("{i:016x}"),
                start_time_ns: t,
                end_time_ns: t + 10,
                ..Default::default()
            })
            .collect();
        s.append("default", Signal::Spans, spans_batch(&rows).unwrap())
            .await
            .unwrap();
        s.flush().await.unwrap();
    }
    assert_eq!(s.snapshot("default", Signal::Spans).files.len(), 3);
    let snap = s
        .trace_snapshot("default", &format!("{:0<32}", "bb"))
        .unwrap();
    assert_eq!(snap.files.len(), 1);
    assert!(
        s.trace_snapshot("default", &format!("{:0<32}", "dd"))
            .unwrap()
            .files
            .is_empty()
    );
    // Sidecars survive restart and orphan cleanup.
    drop(s);
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(
        s.trace_snapshot("default", &format!("{:0<32}", "cc"))
            .unwrap()
            .files
            .len(),
        1
    );
}

#[tokio::test]
async fn series_index_survives_flush_and_restart() {
    use crate::schema::{SampleRow, samples_batch};
    let dir = tempfile::tempdir().unwrap();
    let sample = |job: &str| SampleRow {
        metric: "up".into(),
        labels: vec![("job".into(), job.into())],
        timestamp_ns: now_ns(),
        value: 1.0,
    };
    let s = Storage::open(dir.path(), cfg()).unwrap();
    s.append(
        "default",
        Signal::Metrics,
        samples_batch(&[sample("a"), sample("b")]).unwrap(),
    )
    .await
    .unwrap();
    s.flush().await.unwrap();
    s.append(
        "default",
        Signal::Metrics,
        samples_batch(&[sample("c"), sample("a")]).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(s.series().len("default"), 3);
    drop(s);
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(s.series().len("default"), 3);
    assert_eq!(
        s.series().label_values("default", "job"),
        vec!["a", "b", "c"]
    );
    s.flush().await.unwrap();
    s.close().await.unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(s.series().len("default"), 3);
    assert_eq!(
        std::fs::read_dir(dir.path().join("series/default"))
            .unwrap()
            .count(),
        2
    );
}

#[tokio::test]
async fn corrupt_file_is_quarantined_and_the_rest_served() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    let t = now_ns();
    s.append("default", Signal::Logs, logs_at(4, t))
        .await
        .unwrap();
    s.flush().await.unwrap();
    s.append("default", Signal::Logs, logs_at(6, t))
        .await
        .unwrap();
    s.flush().await.unwrap();
    let victim = dir
        .path()
        .join(&s.snapshot("default", Signal::Logs).files[0].path);
    s.close().await.unwrap();
    let len = std::fs::metadata(&victim).unwrap().len();
    std::fs::write(&victim, vec![0u8; len as usize]).unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(s.snapshot("default", Signal::Logs).files.len(), 1);
    assert_eq!(
        std::fs::read_dir(dir.path().join("quarantine"))
            .unwrap()
            .count(),
        1
    );
    assert!(!victim.exists());
    // Counted where operators look: the exported metrics.
    let mut registry = prometheus_client::registry::Registry::default();
    s.metrics().register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains("osprey_storage_quarantined_total 1"),
        "{text}"
    );
}

#[tokio::test]
async fn corrupt_middle_segment_keeps_readable_prefix_and_starts() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    {
        let mut w = wal::SegmentWriter::create(
            &{
                std::fs::create_dir_all(&wal_dir).unwrap();
                wal_dir.clone()
            },
            1,
        )
        .unwrap();
        w.append(&wal::encode("default", Signal::Logs, &logs(3, "a")).unwrap())
            .unwrap();
        let mut bad = wal::encode("default", Signal::Logs, &logs(2, "b")).unwrap();
        let n = bad.len();
        bad[n - 1] ^= 1;
        w.append(&bad).unwrap();
        w.sync().unwrap();
        let mut w2 = wal::SegmentWriter::create(&wal_dir, 2).unwrap();
        w2.append(&wal::encode("default", Signal::Logs, &logs(5, "c")).unwrap())
            .unwrap();
        w2.sync().unwrap();
    }
    let s = Storage::open(dir.path(), cfg()).unwrap();
    assert_eq!(rows_in(&s, "default"), (8, 0));
    assert_eq!(
        std::fs::read_dir(dir.path().join("quarantine"))
            .unwrap()
            .count(),
        1
    );
}

mod model {
    //! Property: under any sequence of appends, flushes, compactions, clean restarts
    //! and crashes, memtable + files hold exactly the acknowledged rows.

    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Append {
            tenant: u8,
            rows: usize,
            hours_ago: i64,
        },
        Flush,
        Compact,
        Restart,
        Crash,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => (0u8..2, 1usize..12, 0i64..3).prop_map(|(tenant, rows, hours_ago)| Op::Append { tenant, rows, hours_ago }),
            3 => Just(Op::Flush),
            1 => Just(Op::Compact),
            1 => Just(Op::Restart),
            1 => Just(Op::Crash),
        ]
    }

    fn bodies(s: &Storage, tenant: &str) -> Vec<String> {
        let snap = s.snapshot(tenant, Signal::Logs);
        let mut batches = snap.batches.clone();
        for f in &snap.files {
            batches.extend(s.read_rows(f, None, None).unwrap());
        }
        let mut out = Vec::new();
        for b in batches {
            let col = b.column_by_name("body").unwrap();
            let col = arrow::array::AsArray::as_string::<i32>(col);
            out.extend((0..b.num_rows()).map(|i| col.value(i).to_string()));
        }
        out.sort();
        out
    }

    async fn run(ops: Vec<Op>) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Storage::open(dir.path(), cfg()).unwrap();
        let mut reference: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut seq = 0u64;
        let hour = 3_600_000_000_000i64;
        for op in ops {
            match op {
                Op::Append {
                    tenant,
                    rows,
                    hours_ago,
                } => {
                    let tenant = format!("t{tenant}");
                    let t = now_ns() - hours_ago * hour;
                    let rows: Vec<LogRow> = (0..rows)
                        .map(|_| {
                            seq += 1;
                            LogRow {
                                service: "s".into(),
                                timestamp_ns: t + seq as i64,
                                body: format!("{seq:08}"),
                                ..Default::default()
                            }
                        })
                        .collect();
                    s.append(&tenant, Signal::Logs, logs_batch(&rows).unwrap())
                        .await
                        .unwrap();
                    reference
                        .entry(tenant)
                        .or_default()
                        .extend(rows.into_iter().map(|r| r.body));
                }
                Op::Flush => {
                    s.flush().await.unwrap();
                }
                Op::Compact => {
                    s.compact(None).await.unwrap();
                }
                Op::Restart => {
                    s.close().await.unwrap();
                    s = Storage::open(dir.path(), cfg()).unwrap();
                }
                Op::Crash => {
                    drop(s);
                    s = Storage::open(dir.path(), cfg()).unwrap();
                }
            }
            for t in ["t0", "t1"] {
                let mut want = reference.get(t).cloned().unwrap_or_default();
                want.sort();
                assert_eq!(bodies(&s, t), want, "tenant {t}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn storage_matches_reference_model(ops in proptest::collection::vec(op(), 1..40)) {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(run(ops));
        }
    }
}

/// The head serves recent samples and the files the older ones: every range reads
/// exactly what was written, before and after a flush, a compaction and a restart.
#[tokio::test]
async fn samples_read_the_same_through_head_files_and_restart() {
    use crate::schema::{SampleRow, samples_batch};
    use std::collections::BTreeMap;
    let dir = tempfile::tempdir().unwrap();
    let now = now_ns();
    let min = 60_000_000_000i64;
    let row = |job: &str, t: i64, v: f64| SampleRow {
        metric: "up".into(),
        labels: vec![("job".into(), job.into())],
        timestamp_ns: t,
        value: v,
    };
    // Three hours of one sample a minute (the first hour older than the head keeps),
    // written in two halves with a flush between; then a late sample.
    let mut rows: Vec<SampleRow> = Vec::new();
    for i in 0..180 {
        for job in ["a", "b"] {
            rows.push(row(job, now - 180 * min + i * min, (i * 7 % 11) as f64));
        }
    }
    rows.push(row("c", now - 5 * min, 42.0));
    let s = Storage::open(dir.path(), cfg()).unwrap();
    let (first, second) = rows.split_at(200);
    s.append("default", Signal::Metrics, samples_batch(first).unwrap())
        .await
        .unwrap();
    s.flush().await.unwrap();
    s.append("default", Signal::Metrics, samples_batch(second).unwrap())
        .await
        .unwrap();
    let late = [row("a", now - 30 * min + 1, -1.0)];
    s.append("default", Signal::Metrics, samples_batch(&late).unwrap())
        .await
        .unwrap();
    assert!(s.head_bytes() > 0);

    let ids_of = |s: &Storage| -> BTreeMap<String, u64> {
        s.series()
            .select("default", &[])
            .into_iter()
            .map(|x| (x.get("job").to_string(), x.id))
            .collect()
    };
    let expected = |start: i64, end: i64| -> BTreeMap<String, Vec<(i64, f64)>> {
        let mut m: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
        for r in rows.iter().chain(&late) {
            if r.timestamp_ns >= start && r.timestamp_ns <= end {
                m.entry(r.labels[0].1.clone())
                    .or_default()
                    .push((r.timestamp_ns, r.value));
            }
        }
        m.values_mut().for_each(|v| v.sort_by_key(|p| p.0));
        m
    };
    let ranges = [
        (i64::MIN, i64::MAX),
        (now - 10 * min, now),
        (now - 170 * min, now - 150 * min),
        (now - 130 * min, now - 100 * min),
    ];
    let check = |s: &Storage, stage: &str| {
        let ids = ids_of(s);
        let mut sorted: Vec<u64> = ids.values().copied().collect();
        sorted.sort_unstable();
        for (start, end) in ranges {
            let got = s
                .sample_reader("default")
                .read(&sorted, start, end)
                .unwrap();
            let mut by_job: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
            for (job, id) in &ids {
                let at = sorted.binary_search(id).unwrap();
                let mut v = got[at].clone();
                if !v.is_empty() {
                    v.sort();
                    by_job.insert(job.clone(), v.iter().collect());
                }
            }
            assert_eq!(by_job, expected(start, end), "{stage}: {start}..={end}");
        }
    };
    check(&s, "head and files");
    s.flush().await.unwrap();
    s.compact_full(None).await.unwrap();
    check(&s, "after flush and compaction");
    s.close().await.unwrap();
    let s = Storage::open(dir.path(), cfg()).unwrap();
    check(&s, "after restart");
    // The last two hours are loaded from the files into the head, and read the same.
    s.wait_head_warm();
    assert!(s.head_bytes() > 0);
    check(&s, "after restart, head loaded");
    let late = [row("b", now - 90 * min + 1, 5.0)];
    s.append("default", Signal::Metrics, samples_batch(&late).unwrap())
        .await
        .unwrap();
    let ids = ids_of(&s);
    let got = s
        .sample_reader("default")
        .read(&[ids["b"]], now - 90 * min, now - 90 * min + 1)
        .unwrap();
    assert_eq!(got[0].len(), 2, "{got:?}");
}

#[tokio::test]
async fn samples_files_keep_a_metrics_series_together_and_find_series_by_time() {
    use crate::schema::{SampleRow, samples_batch};
    use arrow::array::AsArray;
    use arrow::datatypes::UInt64Type;
    let dir = tempfile::tempdir().unwrap();
    let min = 60_000_000_000i64;
    // Ten hours ago, at the start of an hour (one partition): older than the head
    // keeps, so read from files only.
    let t0 = (now_ns() - 600 * min).div_euclid(60 * min) * 60 * min;
    let mut rows = Vec::new();
    for i in 0..40 {
        let metric = ["b_total", "a_total", "c"][i % 3];
        // Every series has samples at t0 and t0 + 20 min; "gap" series nothing between.
        for m in [0, 20] {
            rows.push(SampleRow {
                metric: metric.into(),
                labels: vec![("i".into(), i.to_string())],
                timestamp_ns: t0 + m * min,
                value: i as f64,
            });
        }
        if i % 2 == 0 {
            rows.push(SampleRow {
                metric: metric.into(),
                labels: vec![("i".into(), i.to_string())],
                timestamp_ns: t0 + 10 * min,
                value: 0.5,
            });
        }
    }
    let s = Storage::open(dir.path(), cfg()).unwrap();
    s.append("default", Signal::Metrics, samples_batch(&rows).unwrap())
        .await
        .unwrap();
    s.flush().await.unwrap();
    let file = s.files().into_iter().next().unwrap();
    assert_eq!((file.rows, file.runs), (rows.len() as u64, 40));
    // Runs by metric name, then labels.
    let batches = s.read_rows(&file, Some(&["series_id"]), None).unwrap();
    let all = s.series().select("default", &[]);
    let name = |id: u64| {
        let x = all.iter().find(|x| x.id == id).unwrap();
        (x.metric.clone(), x.get("i").to_string())
    };
    let order: Vec<(String, String)> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
        .map(name)
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    // Between the runs' first and last samples, only the series with a sample there.
    let mut ids: Vec<u64> = all.iter().map(|x| x.id).collect();
    ids.sort_unstable();
    let found = s
        .sample_reader("default")
        .ids_with_samples(&ids, t0 + 5 * min, t0 + 15 * min)
        .unwrap();
    let mut got: Vec<usize> = found
        .iter()
        .map(|id| name(*id).1.parse().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..40).step_by(2).collect::<Vec<_>>());
    let edge = s
        .sample_reader("default")
        .ids_with_samples(&ids, t0 + 20 * min, t0 + 30 * min)
        .unwrap();
    assert_eq!(edge.len(), 40);
}
