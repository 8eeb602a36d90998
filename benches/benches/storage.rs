//! Criterion micro-benchmarks of storage hot paths: WAL record encoding and append,
//! memtable insert through `Storage::append` (group commit, fsync off and on), flush
//! (sort + Parquet encode + manifest commit), and Parquet decode.
// A benchmark's set-up failing is a broken benchmark: panicking with the reason is right.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use osprey_config::StorageConfig;
use osprey_storage::schema::{LogRow, SampleRow, logs_batch, samples_batch};
use osprey_storage::{Signal, Storage, wal};

fn log_rows(n: usize) -> Vec<LogRow> {
    (0..n)
        .map(|i| LogRow {
            service: format!("svc-{:02}", i % 20),
            timestamp_ns: 1_700_000_000_000_000_000 + i as i64 * 1_000_000,
            observed_timestamp_ns: 1_700_000_000_000_000_000 + i as i64 * 1_000_000,
            severity_text: "INFO".into(),
            severity_number: 9,
            body: format!(
                "GET /api/items/{} 200 {}.{}ms user=u-{}",
                i * 7 % 5000,
                i % 90,
                i % 10,
                i * 13 % 100_000
            ),
            trace_id: format!("{:032x}", i as u128 * 0x9e3779b97f4a7c15),
            span_id: format!("{:016x}", i as u64 * 0x9e3779b9),
            ..Default::default()
        })
        .collect()
}

fn sample_rows(series: usize, steps: usize) -> Vec<SampleRow> {
    let mut out = Vec::with_capacity(series * steps);
    for t in 0..steps {
        for s in 0..series {
            out.push(SampleRow {
                metric: format!("node_metric_{}", s % 50),
                labels: vec![
                    ("instance".into(), format!("node-{}", s / 50)),
                    ("job".into(), "node".into()),
                ],
                timestamp_ns: 1_700_000_000_000_000_000 + t as i64 * 15_000_000_000,
                value: (s * 1000 + t * 15) as f64,
            });
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let logs = logs_batch(&log_rows(1000)).expect("batch");

    let mut g = c.benchmark_group("wal");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("encode_1000_logs", |b| {
        b.iter(|| black_box(wal::encode("default", Signal::Logs, &logs).expect("encode")))
    });
    let dir = tempfile::tempdir().expect("tmp");
    let mut seg = wal::SegmentWriter::create(dir.path(), 1).expect("segment");
    let rec = wal::encode("default", Signal::Logs, &logs).expect("encode");
    g.bench_function("append_1000_logs_no_fsync", |b| {
        b.iter(|| seg.append(&rec).expect("append"))
    });
    g.finish();

    let mut g = c.benchmark_group("memtable");
    g.throughput(Throughput::Elements(1000));
    for fsync in [false, true] {
        let dir = tempfile::tempdir().expect("tmp");
        let cfg = StorageConfig {
            wal_fsync: fsync,
            memtable_limit: bytesize::ByteSize::gib(8),
            flush_size: bytesize::ByteSize::gib(8),
            ..StorageConfig::default()
        };
        let storage = Storage::open(dir.path(), cfg).expect("open");
        g.bench_function(format!("append_1000_logs_fsync_{fsync}"), |b| {
            b.iter(|| {
                rt.block_on(storage.append("default", Signal::Logs, logs.clone()))
                    .expect("append")
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("flush");
    g.sample_size(10);
    let samples = samples_batch(&sample_rows(1000, 100)).expect("batch");
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("flush_100k_samples", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tmp");
                let s = Storage::open(dir.path(), StorageConfig::default()).expect("open");
                rt.block_on(s.append("default", Signal::Metrics, samples.clone()))
                    .expect("append");
                (dir, s)
            },
            |(dir, s)| {
                rt.block_on(s.flush()).expect("flush");
                drop(dir);
            },
            BatchSize::PerIteration,
        )
    });
    let big_logs = logs_batch(&log_rows(100_000)).expect("batch");
    g.bench_function("flush_100k_logs", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tmp");
                let s = Storage::open(dir.path(), StorageConfig::default()).expect("open");
                rt.block_on(s.append("default", Signal::Logs, big_logs.clone()))
                    .expect("append");
                (dir, s)
            },
            |(dir, s)| {
                rt.block_on(s.flush()).expect("flush");
                drop(dir);
            },
            BatchSize::PerIteration,
        )
    });
    // Decode: read back a flushed logs file.
    let dir = tempfile::tempdir().expect("tmp");
    let s = Storage::open(dir.path(), StorageConfig::default()).expect("open");
    rt.block_on(s.append("default", Signal::Logs, big_logs.clone()))
        .expect("append");
    rt.block_on(s.flush()).expect("flush");
    let path = dir
        .path()
        .join(&s.snapshot("default", Signal::Logs).files[0].path);
    g.bench_function("parquet_decode_100k_logs", |b| {
        b.iter(|| {
            let f = std::fs::File::open(&path).expect("open");
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .expect("reader")
                .build()
                .expect("build");
            black_box(reader.map(|b| b.expect("batch").num_rows()).sum::<usize>())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
