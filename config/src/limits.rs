//! `[limits]` and `[overrides.<tenant>]`: what each tenant may send and ask. `[limits]`
//! holds every tenant's values; `[overrides.<tenant>]` changes any of them for one
//! tenant (Mimir's limits and per-tenant overrides). A rate or count of 0 means no
//! limit. The query limits default to `[query]`'s values.

use std::collections::BTreeMap;
use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

use crate::{Problems, QueryConfig};

/// One tenant's limits as written: every field optional, so that an override names
/// only what it changes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Samples per second over every metrics protocol (remote_write, OTLP).
    pub ingest_samples_per_second: Option<u64>,
    /// Log records per second (OTLP, Loki push, lines).
    pub ingest_lines_per_second: Option<u64>,
    /// Spans per second.
    pub ingest_spans_per_second: Option<u64>,
    /// Decoded request bytes per second, every signal together.
    pub ingest_bytes_per_second: Option<ByteSize>,
    /// How much above its rates a tenant may send at once: `ingest_burst` times each
    /// rate (a client that was quiet may catch up that much).
    #[serde(default, with = "humantime_serde::option")]
    pub ingest_burst: Option<Duration>,
    /// Metric series that received a sample within the last hour.
    pub max_active_series: Option<u64>,
    /// Labels of one series, `__name__` included.
    pub max_labels_per_series: Option<usize>,
    /// Bytes of a label name.
    pub max_label_name_length: Option<usize>,
    /// Bytes of a label value.
    pub max_label_value_length: Option<usize>,
    /// Bytes of a log line; longer lines are cut (and counted), not refused.
    pub max_line_size: Option<ByteSize>,
    /// Attributes of one log record or span (resource attributes apart).
    pub max_attributes_per_record: Option<usize>,
    /// Spans of one trace seen within the last hour.
    pub max_spans_per_trace: Option<u64>,
    /// Longest a query may run (default `query.timeout`).
    #[serde(default, with = "humantime_serde::option")]
    pub max_query_time: Option<Duration>,
    /// Memory one SQL or log query may hold for sorts, joins and aggregations.
    pub max_query_memory: Option<ByteSize>,
    /// Rows one SQL query returns (default `query.max_result_rows`).
    pub max_result_rows: Option<usize>,
    /// Series one PromQL selector may match or one query return (default
    /// `query.max_series`).
    pub max_series: Option<usize>,
    /// Samples one PromQL query may load (default `query.max_samples`).
    pub max_samples: Option<usize>,
    /// Queries of the tenant running at once; more wait (up to their time limit).
    pub max_concurrent_queries: Option<usize>,
    /// Rules of the tenant, every group together.
    pub max_rules: Option<usize>,
}

/// One tenant's limits, resolved: `[overrides.<tenant>]`, else `[limits]`, else the
/// defaults below (the query ones from `[query]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub ingest_samples_per_second: u64,
    pub ingest_lines_per_second: u64,
    pub ingest_spans_per_second: u64,
    pub ingest_bytes_per_second: u64,
    pub ingest_burst: Duration,
    pub max_active_series: u64,
    pub max_labels_per_series: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    pub max_line_size: usize,
    pub max_attributes_per_record: usize,
    pub max_spans_per_trace: u64,
    pub max_query_time: Duration,
    pub max_query_memory: u64,
    pub max_result_rows: usize,
    pub max_series: usize,
    pub max_samples: usize,
    pub max_concurrent_queries: usize,
    pub max_rules: usize,
}

impl Limits {
    /// The built-in values: rates unlimited, shapes as Prometheus-ecosystem senders
    /// produce them with room to spare, queries as `[query]` says.
    fn defaults(q: &QueryConfig) -> Self {
        Self {
            ingest_samples_per_second: 0,
            ingest_lines_per_second: 0,
            ingest_spans_per_second: 0,
            ingest_bytes_per_second: 0,
            ingest_burst: Duration::from_secs(10),
            max_active_series: 0,
            // Mimir's default is 30; OpenTelemetry resources turned into labels can
            // have more, so the bound is generous: its point is refusing a series of
            // 50,000 labels copied into every row and the series index.
            max_labels_per_series: 128,
            // Mimir's default.
            max_label_name_length: 1024,
            // Mimir's is 2048; a URL or a query kept as a label can be longer.
            max_label_value_length: 16 * 1024,
            max_line_size: 64 * 1024,
            // The OpenTelemetry SDKs' default attribute count limit.
            max_attributes_per_record: 128,
            max_spans_per_trace: 0,
            max_query_time: q.timeout,
            max_query_memory: 0,
            max_result_rows: q.max_result_rows,
            max_series: q.max_series,
            max_samples: q.max_samples,
            max_concurrent_queries: 0,
            max_rules: 0,
        }
    }

    /// `base` with the fields `c` sets replaced.
    fn apply(mut self, c: &LimitsConfig) -> Self {
        macro_rules! take {
            ($($f:ident),*) => { $( if let Some(v) = c.$f { self.$f = v; } )* };
        }
        take!(
            ingest_samples_per_second,
            ingest_lines_per_second,
            ingest_spans_per_second,
            ingest_burst,
            max_active_series,
            max_labels_per_series,
            max_label_name_length,
            max_label_value_length,
            max_attributes_per_record,
            max_spans_per_trace,
            max_query_time,
            max_result_rows,
            max_series,
            max_samples,
            max_concurrent_queries,
            max_rules
        );
        if let Some(v) = c.ingest_bytes_per_second {
            self.ingest_bytes_per_second = v.as_u64();
        }
        if let Some(v) = c.max_line_size {
            self.max_line_size = usize::try_from(v.as_u64()).unwrap_or(usize::MAX);
        }
        if let Some(v) = c.max_query_memory {
            self.max_query_memory = v.as_u64();
        }
        self
    }

    /// The limits of `tenant`.
    pub fn resolve(
        query: &QueryConfig,
        limits: &LimitsConfig,
        overrides: &BTreeMap<String, LimitsConfig>,
        tenant: &str,
    ) -> Self {
        Self::defaults(query).apply(&LimitsConfig::of_tenant(limits, overrides, tenant))
    }
}

impl LimitsConfig {
    /// What the config sets for `tenant`: its override over `[limits]`, unresolved.
    pub fn of_tenant(
        limits: &LimitsConfig,
        overrides: &BTreeMap<String, LimitsConfig>,
        tenant: &str,
    ) -> LimitsConfig {
        match overrides.get(tenant) {
            Some(o) => o.or(limits),
            None => limits.clone(),
        }
    }

    /// Each field of `self`, else of `base`.
    pub fn or(&self, base: &LimitsConfig) -> LimitsConfig {
        macro_rules! or {
            ($($f:ident),*) => { LimitsConfig { $( $f: self.$f.or(base.$f), )* } };
        }
        or!(
            ingest_samples_per_second,
            ingest_lines_per_second,
            ingest_spans_per_second,
            ingest_bytes_per_second,
            ingest_burst,
            max_active_series,
            max_labels_per_series,
            max_label_name_length,
            max_label_value_length,
            max_line_size,
            max_attributes_per_record,
            max_spans_per_trace,
            max_query_time,
            max_query_memory,
            max_result_rows,
            max_series,
            max_samples,
            max_concurrent_queries,
            max_rules
        )
    }

    /// Problems of `[limits]` (`key` = "limits") or an override (`overrides.<tenant>`).
    pub(crate) fn validate(&self, key: &str, p: &mut Problems) {
        let positive = [
            ("max_labels_per_series", self.max_labels_per_series),
            ("max_label_name_length", self.max_label_name_length),
            ("max_label_value_length", self.max_label_value_length),
            ("max_attributes_per_record", self.max_attributes_per_record),
            ("max_result_rows", self.max_result_rows),
            ("max_series", self.max_series),
            ("max_samples", self.max_samples),
        ];
        for (field, v) in positive {
            if v == Some(0) {
                p.bad(&format!("{key}.{field}"), "must be greater than 0".into());
            }
        }
        if self.max_line_size.is_some_and(|s| s.as_u64() < 1024) {
            p.bad(
                &format!("{key}.max_line_size"),
                "must be at least 1KiB".into(),
            );
        }
        if self
            .ingest_burst
            .is_some_and(|d| d < Duration::from_secs(1))
        {
            p.bad(&format!("{key}.ingest_burst"), "must be at least 1s".into());
        }
        if self.max_query_time.is_some_and(|d| d.is_zero()) {
            p.bad(
                &format!("{key}.max_query_time"),
                "must be greater than 0s".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{ConfigError, load_str};

    #[test]
    fn overrides_change_only_what_they_name() {
        let c = load_str(
            "[query]\ntimeout = \"7s\"\n[limits]\ningest_samples_per_second = 1000\nmax_line_size = \"4KiB\"\n\
             [overrides.team-a]\ningest_samples_per_second = 50\nmax_query_time = \"2s\"\n",
            &[],
        )
        .unwrap();
        let a = c.limits_for("team-a");
        let b = c.limits_for("team-b");
        assert_eq!(
            (a.ingest_samples_per_second, b.ingest_samples_per_second),
            (50, 1000)
        );
        assert_eq!((a.max_line_size, b.max_line_size), (4096, 4096));
        assert_eq!(
            (a.max_query_time.as_secs(), b.max_query_time.as_secs()),
            (2, 7)
        );
        assert_eq!(b.max_labels_per_series, 128);
    }

    #[test]
    fn bad_limits_are_explained() {
        let text = "[limits]\nmax_labels_per_series = 0\n[overrides.\"../x\"]\ningest_burst = \"0s\"\n[overrides.ok]\nmax_line_size = \"10B\"\nnope = 1\n";
        let Err(ConfigError::Invalid(p)) = load_str(text, &[]) else {
            panic!("expected problems");
        };
        let text: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|t| t.contains("nope")), "{text:?}");
        let text = "[limits]\nmax_labels_per_series = 0\n[overrides.\"../x\"]\ningest_burst = \"0s\"\n[overrides.ok]\nmax_line_size = \"10B\"\n";
        let Err(ConfigError::Invalid(p)) = load_str(text, &[]) else {
            panic!("expected problems");
        };
        let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "limits.max_labels_per_series",
                "overrides.../x",
                "overrides.../x.ingest_burst",
                "overrides.ok.max_line_size"
            ]
        );
    }
}
