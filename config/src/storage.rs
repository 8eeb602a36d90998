//! `[storage]`: WAL, memtables, files, retention, compaction and where data files live.

use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

use crate::Problems;

/// WAL, memtable and flush settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// fsync the WAL before acknowledging a write. Turning this off trades durability
    /// of the last moments before a power loss for ingest speed.
    pub wal_fsync: bool,
    /// A memtable is flushed to a Parquet file once it holds this many bytes.
    pub flush_size: ByteSize,
    /// ... or once its oldest record is this old.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Upper bound for all memtables (active + being flushed); beyond it ingest answers 429.
    pub memtable_limit: ByteSize,
    /// Rows per Parquet row group. 256k measured 5 B/span and 1.5 B/line smaller than
    /// 64k (dictionaries and zstd see more at once); pruning gets coarser. Logs files
    /// use at most 32k (their trace-id filters are per row group).
    pub row_group_rows: usize,
    /// Time span of one partition: files never mix rows of two partitions, and
    /// retention drops whole partitions. Must divide a day.
    #[serde(with = "humantime_serde")]
    pub partition: Duration,
    /// How long logs are kept.
    #[serde(with = "humantime_serde")]
    pub retention_logs: Duration,
    /// How long spans are kept.
    #[serde(with = "humantime_serde")]
    pub retention_spans: Duration,
    /// How long metric samples are kept.
    #[serde(with = "humantime_serde")]
    pub retention_metrics: Duration,
    /// Compaction merges small files of a partition into files of about this size.
    pub compaction_target_size: ByteSize,
    /// Most rows one merge reads: bounds compaction's memory (it holds its inputs).
    /// Log records and spans count one each; metric samples (24 bytes decoded) 1/16.
    pub compaction_max_rows: u64,
    /// How far behind a tenant's newest metric sample another may be and still be
    /// accepted (Prometheus' `out_of_order_time_window`); older ones get a 400.
    #[serde(with = "humantime_serde")]
    pub metrics_out_of_order_window: Duration,
    /// Logs files' full-text index keeps token positions, so a phrase is answered by
    /// the index (36× faster at 10M lines) at a cost of ~11 bytes/line and some ingest
    /// speed; without them a phrase's candidates are checked against their bodies.
    pub text_index_positions: bool,
    /// Most exemplars kept in memory (oldest overwritten, as in Prometheus'
    /// `--storage.tsdb.max-exemplars`); 0 keeps none.
    pub max_exemplars: usize,
    /// How often retention and compaction look for work.
    #[serde(with = "humantime_serde")]
    pub maintenance_interval: Duration,
    /// Memory for opened full-text indexes of logs files, and as much again for tag
    /// indexes of spans files (the coldest are dropped beyond it and read again from
    /// disk when needed), and a quarter of it for the body term lists substring
    /// searches keep (`storage/src/index/terms.rs`). The default holds the indexes of
    /// about 12M log lines (~26 B/line with positions and the `| json` label columns):
    /// at 10M lines they were 256.3 MiB, and a budget just under them costs a needle
    /// search an index reopen and a term-list rebuild per query (benches/README.md).
    pub text_index_cache: ByteSize,
    /// Where data files (Parquet, their index sidecars, series files) live: empty for
    /// `server.data_dir`, `s3://BUCKET[/PREFIX]` for an S3-compatible bucket, or
    /// `file:///PATH` for a directory several processes share. The WAL
    /// and the MANIFEST stay in `server.data_dir` either way. One prefix per server:
    /// objects under it that the manifest does not list are deleted on start.
    /// Credentials come from the usual `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
    /// `AWS_SESSION_TOKEN` environment variables, never from this file.
    pub object_store: String,
    /// Endpoint of an S3-compatible service (MinIO, Ceph, ...); empty for AWS itself.
    /// `http://` endpoints are allowed and use plain HTTP.
    pub s3_endpoint: String,
    /// The bucket's region.
    pub s3_region: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            wal_fsync: true,
            flush_size: ByteSize::mib(64),
            flush_interval: Duration::from_secs(60),
            memtable_limit: ByteSize::mib(512),
            row_group_rows: 256 * 1024,
            partition: Duration::from_secs(3600),
            retention_logs: Duration::from_secs(7 * 86400),
            retention_spans: Duration::from_secs(7 * 86400),
            retention_metrics: Duration::from_secs(15 * 86400),
            compaction_target_size: ByteSize::mib(128),
            compaction_max_rows: 500_000,
            metrics_out_of_order_window: Duration::from_secs(3600),
            max_exemplars: 100_000,
            text_index_positions: true,
            maintenance_interval: Duration::from_secs(30),
            text_index_cache: ByteSize::mib(320),
            object_store: String::new(),
            s3_endpoint: String::new(),
            s3_region: "us-east-1".into(),
        }
    }
}

/// Where data files live, from `storage.object_store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The data directory.
    Local,
    /// An S3 bucket, with an optional key prefix (no leading or trailing `/`).
    S3 { bucket: String, prefix: String },
    /// A directory outside the data directory (`file:///abs/path`): a store several
    /// processes on one machine share, as a cluster's bucket.
    Dir(std::path::PathBuf),
}

impl StorageConfig {
    /// Parses `object_store`.
    pub fn store_location(&self) -> Result<StoreLocation, String> {
        let url = self.object_store.trim();
        if url.is_empty() {
            return Ok(StoreLocation::Local);
        }
        if let Some(path) = url.strip_prefix("file://") {
            let path = std::path::PathBuf::from(path);
            if !path.is_absolute() {
                return Err(format!(
                    "{url:?}: expected file:///ABSOLUTE/PATH (three slashes and a path from the root)"
                ));
            }
            return Ok(StoreLocation::Dir(path));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(format!(
                "{url:?} is not supported; expected \"\" (the data directory), \"s3://BUCKET[/PREFIX]\" or \"file:///PATH\""
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(format!(
                "{bucket:?} is not a valid bucket name; expected 3-63 lowercase letters, digits, '-' or '.'"
            ));
        }
        Ok(StoreLocation::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }
}

impl StorageConfig {
    pub(crate) fn validate(&self, p: &mut Problems) {
        let st = self;
        if st.flush_size.as_u64() == 0 {
            p.bad("storage.flush_size", "must be greater than 0".into());
        }
        if st.memtable_limit < st.flush_size {
            p.bad(
                "storage.memtable_limit",
                format!(
                    "{} is below storage.flush_size ({}); expected at least the flush size",
                    st.memtable_limit, st.flush_size
                ),
            );
        }
        if st.flush_interval.is_zero() {
            p.bad("storage.flush_interval", "must be greater than 0s".into());
        }
        if st.row_group_rows < 1024 {
            p.bad(
                "storage.row_group_rows",
                format!("{} is too small; expected at least 1024", st.row_group_rows),
            );
        }
        let part = st.partition.as_secs();
        if part == 0 || st.partition.subsec_nanos() != 0 || 86400 % part != 0 {
            p.bad(
                "storage.partition",
                format!(
                    "{} does not divide a day; expected e.g. \"1h\", \"2h\" or \"1d\"",
                    humantime_serde::re::humantime::format_duration(st.partition)
                ),
            );
        }
        for (key, r) in [
            ("storage.retention_logs", st.retention_logs),
            ("storage.retention_spans", st.retention_spans),
            ("storage.retention_metrics", st.retention_metrics),
        ] {
            if r < st.partition {
                p.bad(key, "must be at least one storage.partition".into());
            }
        }
        if st.compaction_target_size.as_u64() < 1024 * 1024 {
            p.bad(
                "storage.compaction_target_size",
                "too small; expected at least 1MiB".into(),
            );
        }
        if st.compaction_max_rows < 10_000 {
            p.bad(
                "storage.compaction_max_rows",
                format!(
                    "{} is too small; expected at least 10000",
                    st.compaction_max_rows
                ),
            );
        }
        if st.maintenance_interval.is_zero() {
            p.bad(
                "storage.maintenance_interval",
                "must be greater than 0s".into(),
            );
        }
        if let Err(message) = st.store_location() {
            p.bad("storage.object_store", message);
        }
        let endpoint_ok = st.s3_endpoint.is_empty()
            || st.s3_endpoint.starts_with("http://")
            || st.s3_endpoint.starts_with("https://");
        if !endpoint_ok {
            p.bad(
                "storage.s3_endpoint",
                format!(
                    "{:?} is not a URL; expected e.g. \"https://s3.example.com\" or \"http://127.0.0.1:9000\"",
                    st.s3_endpoint
                ),
            );
        }
        if st.s3_region.is_empty() {
            p.bad("storage.s3_region", "must not be empty".into());
        }
    }
}
