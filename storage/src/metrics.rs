//! Storage's own metrics (WAL fsync, flush and manifest commit latency, memtable
//! bytes, files).

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::FileMeta;

#[derive(Clone)]
pub struct StorageMetrics {
    wal_fsync: Histogram,
    flush: Histogram,
    manifest_commit: Histogram,
    memtable_bytes: Gauge,
    wal_rows: Counter,
    files: Gauge,
    file_bytes: Gauge,
    quarantined: Counter,
    text_index_errors: Counter,
    disk_full: Gauge,
}

impl Default for StorageMetrics {
    fn default() -> Self {
        Self {
            wal_fsync: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            flush: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            // Fine around the scale-out target (p99 under 200 ms on S3).
            manifest_commit: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0,
            ]),
            memtable_bytes: Gauge::default(),
            wal_rows: Counter::default(),
            files: Gauge::default(),
            file_bytes: Gauge::default(),
            quarantined: Counter::default(),
            text_index_errors: Counter::default(),
            disk_full: Gauge::default(),
        }
    }
}

impl StorageMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "osprey_storage_disk_full",
            "1 while the last WAL write found the disk full (writes refused until one fits)",
            self.disk_full.clone(),
        );
        r.register(
            "osprey_wal_fsync_seconds",
            "Time taken by one WAL fsync (one group commit)",
            self.wal_fsync.clone(),
        );
        r.register(
            "osprey_flush_seconds",
            "Time taken to flush one frozen memtable to Parquet files",
            self.flush.clone(),
        );
        r.register(
            "osprey_manifest_commit_seconds",
            "Time taken to commit one manifest change (a flush's or a compaction's), conflicts and retries included",
            self.manifest_commit.clone(),
        );
        r.register(
            "osprey_memtable_bytes",
            "Bytes held in memtables (active and being flushed)",
            self.memtable_bytes.clone(),
        );
        r.register(
            "osprey_wal_rows",
            "Rows committed to the WAL",
            self.wal_rows.clone(),
        );
        r.register(
            "osprey_storage_files",
            "Live Parquet files",
            self.files.clone(),
        );
        r.register(
            "osprey_text_index_errors",
            "Full-text and tag indexes that could not be read (searches read those files instead)",
            self.text_index_errors.clone(),
        );
        r.register(
            "osprey_storage_quarantined",
            "Data files and WAL segments found corrupt and moved or copied to quarantine/",
            self.quarantined.clone(),
        );
        r.register(
            "osprey_storage_file_bytes",
            "Bytes in live Parquet files",
            self.file_bytes.clone(),
        );
    }

    pub(crate) fn observe_fsync(&self, d: Duration) {
        self.wal_fsync.observe(d.as_secs_f64());
    }

    pub(crate) fn set_disk_full(&self, full: bool) {
        self.disk_full.set(i64::from(full));
    }

    pub(crate) fn observe_flush(&self, d: Duration) {
        self.flush.observe(d.as_secs_f64());
    }

    pub(crate) fn observe_manifest_commit(&self, d: Duration) {
        self.manifest_commit.observe(d.as_secs_f64());
    }

    pub(crate) fn set_memtable_bytes(&self, b: u64) {
        self.memtable_bytes
            .set(i64::try_from(b).unwrap_or(i64::MAX));
    }

    pub(crate) fn add_text_index_error(&self) {
        self.text_index_errors.inc();
    }

    pub(crate) fn add_quarantined(&self, n: u64) {
        self.quarantined.inc_by(n);
    }

    pub(crate) fn add_wal_rows(&self, n: u64) {
        self.wal_rows.inc_by(n);
    }

    pub(crate) fn set_files(&self, files: &[FileMeta]) {
        self.files.set(files.len() as i64);
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        self.file_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}
