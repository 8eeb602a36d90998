//! Osprey's typed configuration: every setting with its default, loading from a TOML
//! file, `OSPREY_<SECTION>_<KEY>` environment overrides, and validation that explains
//! every problem at once (`osprey config check`).
//!
//! Unknown keys are errors. Sizes are written like `"16MiB"`, durations like `"30s"`.

mod load;
mod scrape;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

pub use load::{ConfigError, Problem, env_overrides, load, load_str};
pub use scrape::{RelabelAction, RelabelConfig, ScrapeConfig, ScrapeJob};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub query: QueryConfig,
    pub spanmetrics: SpanMetricsConfig,
    pub scrape: ScrapeConfig,
}

/// Listeners and request limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Where the WAL, Parquet files and manifest live.
    pub data_dir: PathBuf,
    /// HTTP API, UI, Prometheus/Loki ingest and the OTLP HTTP paths again.
    pub http_addr: SocketAddr,
    /// OTLP gRPC.
    pub otlp_grpc_addr: SocketAddr,
    /// OTLP HTTP.
    pub otlp_http_addr: SocketAddr,
    /// Largest accepted request body, after decompression too.
    pub max_body_size: ByteSize,
    /// How long shutdown may take (drain in-flight requests, final flush) before exiting.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./osprey-data"),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 9800)),
            otlp_grpc_addr: SocketAddr::from(([127, 0, 0, 1], 4317)),
            otlp_http_addr: SocketAddr::from(([127, 0, 0, 1], 4318)),
            max_body_size: ByteSize::mib(16),
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

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
    /// 64k (dictionaries and zstd see more at once); pruning gets coarser.
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
    /// indexes of spans files (least recently used are dropped beyond it and read
    /// again from disk when needed).
    pub text_index_cache: ByteSize,
    /// Where data files (Parquet, their index sidecars, series files) live: empty for
    /// `server.data_dir`, or `s3://BUCKET[/PREFIX]` for an S3-compatible bucket. The WAL
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
            text_index_cache: ByteSize::mib(256),
            object_store: String::new(),
            s3_endpoint: String::new(),
            s3_region: "us-east-1".into(),
        }
    }
}

/// RED metrics derived from spans at ingest (DESIGN §5), under the OpenTelemetry
/// Collector spanmetrics connector's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpanMetricsConfig {
    pub enabled: bool,
    /// How often the cumulative series are written as samples.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Upper bounds (ms) of the duration histogram's buckets; `+Inf` is added.
    pub buckets_ms: Vec<f64>,
    /// Span (or else resource) attributes that become extra labels (dots become `_`).
    pub dimensions: Vec<String>,
    /// How long half of a service-graph edge waits for its other half before it is
    /// dropped (or becomes an edge to a virtual node).
    #[serde(with = "humantime_serde")]
    pub graph_wait: Duration,
}

impl Default for SpanMetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(15),
            buckets_ms: vec![
                2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0,
                5000.0, 10000.0, 15000.0,
            ],
            dimensions: Vec::new(),
            graph_wait: Duration::from_secs(30),
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
}

impl StorageConfig {
    /// Parses `object_store`.
    pub fn store_location(&self) -> Result<StoreLocation, String> {
        let url = self.object_store.trim();
        if url.is_empty() {
            return Ok(StoreLocation::Local);
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(format!(
                "{url:?} is not supported; expected \"\" (the data directory) or \"s3://BUCKET[/PREFIX]\""
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

/// Query limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// Longest a query may run.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Most rows a SQL query returns in one response.
    pub max_result_rows: usize,
    /// Prometheus' lookback delta for instant vector selectors.
    #[serde(with = "humantime_serde")]
    pub lookback_delta: Duration,
    /// Most samples one PromQL query may load or hold in one node's result
    /// (Prometheus' `--query.max-samples`).
    pub max_samples: usize,
    /// Most series one PromQL selector may match or one node may produce.
    pub max_series: usize,
    /// Step of a PromQL subquery that gives none (Prometheus' evaluation interval).
    #[serde(with = "humantime_serde")]
    pub subquery_step: Duration,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_result_rows: 10_000,
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            max_series: 500_000,
            subquery_step: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// Semantic checks that a type alone cannot express. Returns every problem found.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut bad = |key: &str, message: String| {
            problems.push(Problem {
                key: key.to_string(),
                message,
            })
        };
        let s = &self.server;
        if s.data_dir.as_os_str().is_empty() {
            bad("server.data_dir", "must not be empty".into());
        }
        if s.max_body_size.as_u64() < 1024 {
            bad(
                "server.max_body_size",
                format!("{} is too small; expected at least 1KiB", s.max_body_size),
            );
        }
        let ports = [
            ("server.http_addr", s.http_addr),
            ("server.otlp_grpc_addr", s.otlp_grpc_addr),
            ("server.otlp_http_addr", s.otlp_http_addr),
        ];
        for (i, (ka, a)) in ports.iter().enumerate() {
            for (kb, b) in &ports[i + 1..] {
                if a == b && a.port() != 0 {
                    bad(kb, format!("{b} is already used by {ka}"));
                }
            }
        }
        let st = &self.storage;
        if st.flush_size.as_u64() == 0 {
            bad("storage.flush_size", "must be greater than 0".into());
        }
        if st.memtable_limit < st.flush_size {
            bad(
                "storage.memtable_limit",
                format!(
                    "{} is below storage.flush_size ({}); expected at least the flush size",
                    st.memtable_limit, st.flush_size
                ),
            );
        }
        if st.flush_interval.is_zero() {
            bad("storage.flush_interval", "must be greater than 0s".into());
        }
        if st.row_group_rows < 1024 {
            bad(
                "storage.row_group_rows",
                format!("{} is too small; expected at least 1024", st.row_group_rows),
            );
        }
        let part = st.partition.as_secs();
        if part == 0 || st.partition.subsec_nanos() != 0 || 86400 % part != 0 {
            bad(
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
                bad(key, "must be at least one storage.partition".into());
            }
        }
        if st.compaction_target_size.as_u64() < 1024 * 1024 {
            bad(
                "storage.compaction_target_size",
                "too small; expected at least 1MiB".into(),
            );
        }
        if st.compaction_max_rows < 10_000 {
            bad(
                "storage.compaction_max_rows",
                format!(
                    "{} is too small; expected at least 10000",
                    st.compaction_max_rows
                ),
            );
        }
        if st.maintenance_interval.is_zero() {
            bad(
                "storage.maintenance_interval",
                "must be greater than 0s".into(),
            );
        }
        if let Err(message) = st.store_location() {
            bad("storage.object_store", message);
        }
        let endpoint_ok = st.s3_endpoint.is_empty()
            || st.s3_endpoint.starts_with("http://")
            || st.s3_endpoint.starts_with("https://");
        if !endpoint_ok {
            bad(
                "storage.s3_endpoint",
                format!(
                    "{:?} is not a URL; expected e.g. \"https://s3.example.com\" or \"http://127.0.0.1:9000\"",
                    st.s3_endpoint
                ),
            );
        }
        if st.s3_region.is_empty() {
            bad("storage.s3_region", "must not be empty".into());
        }
        let sm = &self.spanmetrics;
        if sm.interval.is_zero() {
            bad("spanmetrics.interval", "must be greater than 0s".into());
        }
        let ascending = sm.buckets_ms.windows(2).all(|w| w[0] < w[1]);
        if sm.buckets_ms.is_empty()
            || !ascending
            || sm.buckets_ms.iter().any(|b| !b.is_finite() || *b <= 0.0)
        {
            bad(
                "spanmetrics.buckets_ms",
                "expected positive, finite bounds in ascending order, e.g. [5, 10, 100]".into(),
            );
        }
        for d in &sm.dimensions {
            if d.is_empty()
                || ["service_name", "span_name", "span_kind", "status_code"].contains(&d.as_str())
            {
                bad(
                    "spanmetrics.dimensions",
                    format!("{d:?} is empty or a built-in label"),
                );
            }
        }
        let q = &self.query;
        if q.timeout.is_zero() {
            bad("query.timeout", "must be greater than 0s".into());
        }
        if q.max_result_rows == 0 {
            bad("query.max_result_rows", "must be greater than 0".into());
        }
        if q.lookback_delta.is_zero() {
            bad("query.lookback_delta", "must be greater than 0s".into());
        }
        if q.max_samples == 0 {
            bad("query.max_samples", "must be greater than 0".into());
        }
        if q.max_series == 0 {
            bad("query.max_series", "must be greater than 0".into());
        }
        if q.subquery_step.as_millis() == 0 {
            bad("query.subquery_step", "must be at least 1ms".into());
        }
        for (key, message) in scrape::problems(&self.scrape) {
            bad(&key, message);
        }
        problems
    }
}
