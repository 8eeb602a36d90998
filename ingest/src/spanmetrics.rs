//! RED metrics derived from spans at ingest, with no configuration (DESIGN §5), under the
//! names the OpenTelemetry Collector's spanmetrics connector exports to Prometheus:
//!
//! - `traces_span_metrics_calls_total{service_name, span_name, span_kind, status_code}`
//! - `traces_span_metrics_duration_milliseconds_bucket{…, le}`, `_sum` and `_count`
//!
//! plus one label per configured dimension attribute. Every acknowledged span is counted
//! into cumulative per-series counters in memory; every `spanmetrics.interval` the
//! counters of every series are written as metric samples of the span's tenant, so
//! `rate()` and alert rules work on them like on any scraped counter. Counters start
//! from zero when the server starts (a counter reset, which `rate()` handles); a series
//! not seen for [`EXPIRY`] is dropped.
//!
//! Sampling: a span whose W3C `tracestate` carries an OpenTelemetry rejection threshold
//! (`ot=th:…`, the OTel probability-sampling spec) was kept with probability
//! `1 - th / 2^56`; it is counted as `1 / probability` spans (its adjusted count), so
//! calls and buckets estimate the unsampled traffic. Spans without one count once.

use std::collections::HashMap;

use arrow::array::RecordBatch;

use crate::servicegraph::FastHash;
use crate::span_columns::SpanColumns;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use osprey_config::SpanMetricsConfig;
use osprey_storage::schema::{Attributes, SampleRow, samples_batch};
use osprey_storage::series::exemplars::Exemplar;
use osprey_storage::{Signal, Storage};

/// A series not updated for this long stops being written.
pub const EXPIRY: Duration = Duration::from_secs(3600);

const CALLS: &str = "traces_span_metrics_calls_total";
const DURATION: &str = "traces_span_metrics_duration_milliseconds";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    tenant: String,
    /// Sorted by name.
    labels: Vec<(String, String)>,
}

#[derive(Debug)]
struct Counts {
    calls: f64,
    sum_ms: f64,
    /// Per bucket (not cumulative); the last one is `+Inf`.
    buckets: Vec<f64>,
    /// Per bucket, the newest span that fell in it since the last write: its exemplar.
    exemplars: Vec<Option<SpanExemplar>>,
    updated: Instant,
}

#[derive(Debug, Clone)]
struct SpanExemplar {
    trace_id: String,
    span_id: String,
    ms: f64,
    end_ns: i64,
}

/// The cumulative RED counters of every series seen.
pub struct SpanMetrics {
    config: SpanMetricsConfig,
    /// Label names of the dimensions (attribute keys with `.` → `_`).
    dimension_labels: Vec<String>,
    series: Mutex<HashMap<SeriesKey, Counts>>,
    /// Client→server edges (`servicegraph.rs`), written with the span metrics.
    graph: crate::servicegraph::ServiceGraph,
    /// In a cluster, `osprey_ingester="<node id>"` on every series written, so that two
    /// ingesters never write one series (each counts the traces it owns).
    node_label: std::sync::OnceLock<(String, String)>,
}

/// The label a cluster ingester's derived series carry.
pub const INGESTER_LABEL: &str = "osprey_ingester";

/// A Prometheus label name for an attribute key.
fn label_name(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `le` as Prometheus writes it (`2`, `0.5`, `+Inf`).
fn le(bound: f64) -> String {
    if bound.is_infinite() {
        "+Inf".into()
    } else {
        format!("{bound}")
    }
}

/// The adjusted count of a span from its W3C tracestate (`ot=th:<hex>`): 1 when it
/// carries no valid threshold.
pub fn adjusted_count(trace_state: &str) -> f64 {
    let ot = trace_state
        .split(',')
        .filter_map(|member| member.trim().split_once('='))
        .find(|(k, _)| *k == "ot")
        .map(|(_, v)| v);
    let Some(th) = ot.and_then(|v| {
        v.split(';')
            .filter_map(|kv| kv.split_once(':'))
            .find(|(k, _)| *k == "th")
            .map(|(_, v)| v)
    }) else {
        return 1.0;
    };
    // Up to 14 hex digits, trailing zeros dropped: pad right to 56 bits.
    if th.is_empty() || th.len() > 14 || !th.bytes().all(|b| b.is_ascii_hexdigit()) {
        return 1.0;
    }
    let Ok(t) = u64::from_str_radix(&format!("{th:0<14}"), 16) else {
        return 1.0;
    };
    let p = 1.0 - t as f64 / (1u64 << 56) as f64;
    if p > 0.0 { 1.0 / p } else { 1.0 }
}

impl SpanMetrics {
    pub fn new(config: SpanMetricsConfig) -> Self {
        let graph_wait = config.graph_wait;
        let dimension_labels = config.dimensions.iter().map(|d| label_name(d)).collect();
        Self {
            config,
            dimension_labels,
            series: Mutex::new(HashMap::new()),
            graph: crate::servicegraph::ServiceGraph::new(graph_wait),
            node_label: std::sync::OnceLock::new(),
        }
    }

    /// Labels every series written from now on with [`INGESTER_LABEL`] = `node` (a
    /// cluster's ingester; set once).
    pub fn label_with_node(&self, node: &str) {
        let _ = self
            .node_label
            .set((INGESTER_LABEL.to_string(), node.to_string()));
    }

    /// Counts acknowledged spans, a spans batch of the ingest schema; `weights[i]` is
    /// span `i`'s adjusted count. A request's spans are first summed per series under
    /// keys borrowed from the batch, so labels are built and the shared map locked once
    /// per series of the request, not once per span.
    pub fn observe(&self, tenant: &str, spans: &RecordBatch, weights: &[f64]) {
        if !self.config.enabled || spans.num_rows() == 0 {
            return;
        }
        let Some(cols) = SpanColumns::new(spans) else {
            tracing::error!("span metrics were given a batch without the spans columns");
            return;
        };
        self.graph.observe(tenant, &cols, weights);
        let n_buckets = self.config.buckets_ms.len() + 1;
        // (service, kind, name, status, dimension values) → (calls, sum ms, buckets).
        type Key<'a> = (&'a str, &'a str, &'a str, &'a str, Vec<Option<&'a str>>);
        // Per bucket, the newest span in it: (row, ms).
        type Newest = Vec<Option<(usize, f64)>>;
        let mut batch: HashMap<Key<'_>, (f64, f64, Vec<f64>, Newest), FastHash> =
            HashMap::default();
        for i in 0..cols.len() {
            let w = weights.get(i).copied().unwrap_or(1.0);
            let dims = self
                .config
                .dimensions
                .iter()
                .map(|key| {
                    cols.attribute(i, key)
                        .or_else(|| cols.resource_attribute(i, key))
                })
                .collect();
            let ms = cols.duration_ns(i) as f64 / 1e6;
            let bucket = self
                .config
                .buckets_ms
                .iter()
                .position(|b| ms <= *b)
                .unwrap_or(n_buckets - 1);
            let key = (
                cols.service(i),
                cols.kind(i),
                cols.name(i),
                cols.status(i),
                dims,
            );
            let c = batch
                .entry(key)
                .or_insert_with(|| (0.0, 0.0, vec![0.0; n_buckets], vec![None; n_buckets]));
            c.0 += w;
            c.1 += ms * w;
            c.2[bucket] += w;
            if c.3[bucket].is_none_or(|(e, _)| cols.end_ns(e) <= cols.end_ns(i)) {
                c.3[bucket] = Some((i, ms));
            }
        }
        let now = Instant::now();
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        for ((service, kind, name, status, dims), (calls, sum_ms, buckets, newest)) in batch {
            let mut labels = vec![
                ("service_name".to_string(), service.to_string()),
                ("span_kind".to_string(), kind.to_string()),
                ("span_name".to_string(), name.to_string()),
                ("status_code".to_string(), status.to_string()),
            ];
            for (label, v) in self.dimension_labels.iter().zip(dims) {
                if let Some(v) = v {
                    labels.push((label.clone(), v.to_string()));
                }
            }
            labels.sort();
            let c = series
                .entry(SeriesKey {
                    tenant: tenant.to_string(),
                    labels,
                })
                .or_insert_with(|| Counts {
                    calls: 0.0,
                    sum_ms: 0.0,
                    buckets: vec![0.0; n_buckets],
                    exemplars: vec![None; n_buckets],
                    updated: now,
                });
            c.calls += calls;
            c.sum_ms += sum_ms;
            for (total, n) in c.buckets.iter_mut().zip(buckets) {
                *total += n;
            }
            for (slot, found) in c.exemplars.iter_mut().zip(newest) {
                if let Some((i, ms)) = found
                    && slot.as_ref().is_none_or(|e| e.end_ns <= cols.end_ns(i))
                {
                    *slot = Some(SpanExemplar {
                        trace_id: cols.trace_id(i).to_string(),
                        span_id: cols.span_id(i).to_string(),
                        ms,
                        end_ns: cols.end_ns(i),
                    });
                }
            }
            c.updated = now;
        }
    }

    /// Registers `osprey_servicegraph_unpaired_spans` (halves of service-graph edges
    /// dropped without their peer).
    pub fn register(&self, r: &mut prometheus_client::registry::Registry) {
        r.register(
            "osprey_servicegraph_unpaired_spans",
            "Client or server spans dropped from the service graph without their peer",
            self.graph.dropped_counter(),
        );
    }

    /// Every live series' samples at `ts_ns` (service-graph edges too), per tenant;
    /// drops expired series.
    pub fn samples(&self, ts_ns: i64) -> HashMap<String, Vec<SampleRow>> {
        let mut out: HashMap<String, Vec<SampleRow>> = HashMap::new();
        self.graph.samples(ts_ns, &mut out);
        let Ok(mut series) = self.series.lock() else {
            return out;
        };
        series.retain(|_, c| c.updated.elapsed() < EXPIRY);
        let bounds = self.bounds();
        for (key, c) in series.iter() {
            let rows = out.entry(key.tenant.clone()).or_default();
            let labels: Attributes = key.labels.clone();
            let sample = |metric: &str, labels: Attributes, value: f64| SampleRow {
                metric: metric.to_string(),
                labels,
                timestamp_ns: ts_ns,
                value,
            };
            rows.push(sample(CALLS, labels.clone(), c.calls));
            let mut cumulative = 0.0;
            for (bound, n) in bounds.iter().zip(&c.buckets) {
                cumulative += n;
                let mut l = labels.clone();
                l.push(("le".to_string(), le(*bound)));
                rows.push(sample(&format!("{DURATION}_bucket"), l, cumulative));
            }
            rows.push(sample(&format!("{DURATION}_sum"), labels.clone(), c.sum_ms));
            rows.push(sample(&format!("{DURATION}_count"), labels, c.calls));
        }
        if let Some(node) = self.node_label.get() {
            for row in out.values_mut().flatten() {
                row.labels.push(node.clone());
            }
        }
        out
    }

    /// The duration buckets' upper bounds (ms), `+Inf` last.
    fn bounds(&self) -> Vec<f64> {
        self.config
            .buckets_ms
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .collect()
    }

    /// The exemplars gathered since the last call: per duration bucket series, the
    /// newest span that fell in the bucket (`trace_id`, `span_id`; value in ms, at the
    /// span's end), linking a latency bucket to a trace.
    pub fn take_exemplars(&self) -> Vec<Exemplar> {
        let Ok(mut series) = self.series.lock() else {
            return Vec::new();
        };
        let bounds = self.bounds();
        let mut out = Vec::new();
        for (key, c) in series.iter_mut() {
            for (bound, slot) in bounds.iter().zip(c.exemplars.iter_mut()) {
                let Some(e) = slot.take() else { continue };
                let mut labels = key.labels.clone();
                labels.push(("le".to_string(), le(*bound)));
                labels.extend(self.node_label.get().cloned());
                out.push(Exemplar {
                    tenant: key.tenant.clone(),
                    metric: format!("{DURATION}_bucket"),
                    series_labels: labels,
                    labels: vec![
                        ("span_id".to_string(), e.span_id),
                        ("trace_id".to_string(), e.trace_id),
                    ],
                    value: e.ms,
                    timestamp_ms: e.end_ns.div_euclid(1_000_000),
                });
            }
        }
        out
    }

    /// Writes the samples of every series now, and their exemplars.
    pub async fn write(&self, storage: &Storage) {
        if let Err(e) = storage.append_exemplars(self.take_exemplars()).await {
            tracing::warn!(error = %e, "span metrics: exemplars not written");
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64 * 1_000_000);
        for (tenant, rows) in self.samples(now) {
            let batch = match samples_batch(&rows) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "span metrics: cannot build samples");
                    continue;
                }
            };
            // Counters are cumulative: a write that fails is made good by the next one.
            if let Err(e) = storage.append(&tenant, Signal::Metrics, batch).await {
                tracing::warn!(%tenant, error = %e, "span metrics: write failed; retrying next interval");
            }
        }
    }

    /// Writes the series every interval until `shutdown`, then once more.
    pub async fn run(&self, storage: Storage, shutdown: impl std::future::Future<Output = ()>) {
        if !self.config.enabled {
            return;
        }
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(self.config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => self.write(&storage).await,
            }
        }
        self.write(&storage).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osprey_storage::schema::{SpanRow, spans_batch};

    impl SpanMetrics {
        /// [`SpanMetrics::observe`] of rows, through the batch they are stored as.
        fn observe_rows(&self, tenant: &str, rows: &[SpanRow], weights: &[f64]) {
            self.observe(tenant, &spans_batch(rows).expect("a spans batch"), weights);
        }
    }

    fn span(service: &str, name: &str, ms: i64, status: &str) -> SpanRow {
        SpanRow {
            service: service.into(),
            start_time_ns: 1_000,
            end_time_ns: 1_000 + ms * 1_000_000,
            trace_id: "00".repeat(16),
            span_id: "00".repeat(8),
            parent_span_id: String::new(),
            name: name.into(),
            kind: "SPAN_KIND_SERVER".into(),
            status_code: status.into(),
            status_message: String::new(),
            attributes: vec![("http.route".into(), "/pay".into())],
            resource: vec![("service.name".into(), service.into())],
            events: "[]".into(),
            links: "[]".into(),
            scope: String::new(),
            ..Default::default()
        }
    }

    fn value(rows: &[SampleRow], metric: &str, extra: &[(&str, &str)]) -> f64 {
        rows.iter()
            .filter(|r| r.metric == metric)
            .find(|r| {
                extra
                    .iter()
                    .all(|(k, v)| r.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|r| r.value)
            .unwrap_or(f64::NAN)
    }

    #[test]
    fn newest_span_per_bucket_is_the_exemplar() {
        let m = SpanMetrics::new(SpanMetricsConfig {
            buckets_ms: vec![10.0, 100.0],
            ..Default::default()
        });
        let mut a = span("pay", "POST /pay", 5, "STATUS_CODE_OK");
        a.trace_id = "aa".repeat(16);
        let mut b = span("pay", "POST /pay", 7, "STATUS_CODE_OK");
        b.trace_id = "bb".repeat(16);
        b.start_time_ns += 1;
        b.end_time_ns += 1; // ends last: the bucket's exemplar
        let c = span("pay", "POST /pay", 50, "STATUS_CODE_OK");
        m.observe_rows("t", &[a, b, c], &[1.0, 1.0, 1.0]);
        let mut ex = m.take_exemplars();
        ex.sort_by(|x, y| x.value.total_cmp(&y.value));
        assert_eq!(ex.len(), 2);
        assert!(ex[0].series_labels.contains(&("le".into(), "10".into())));
        assert!(ex[0].labels.contains(&("trace_id".into(), "bb".repeat(16))));
        assert_eq!(ex[0].value, 7.0);
        assert!(ex[1].series_labels.contains(&("le".into(), "100".into())));
        assert_eq!(ex[0].metric, format!("{DURATION}_bucket"));
        // Taken once: the next write has none until new spans come.
        assert!(m.take_exemplars().is_empty());
    }

    #[test]
    fn a_cluster_ingester_labels_every_series_and_exemplar_with_its_name() {
        let m = SpanMetrics::new(SpanMetricsConfig::default());
        m.label_with_node("osprey-ingester-1");
        m.observe_rows(
            "t",
            &[span("pay", "POST /pay", 5, "STATUS_CODE_OK")],
            &[1.0],
        );
        let rows = m.samples(2_000);
        let rows = &rows["t"];
        assert!(!rows.is_empty());
        let node = (INGESTER_LABEL.to_string(), "osprey-ingester-1".to_string());
        assert!(rows.iter().all(|r| r.labels.contains(&node)), "{rows:?}");
        assert_eq!(
            value(rows, CALLS, &[(INGESTER_LABEL, "osprey-ingester-1")]),
            1.0
        );
        assert!(
            m.take_exemplars()
                .iter()
                .all(|e| e.series_labels.contains(&node))
        );
    }

    #[test]
    fn adjusted_counts_from_tracestate() {
        assert_eq!(adjusted_count(""), 1.0);
        assert_eq!(adjusted_count("vendor=x"), 1.0);
        assert_eq!(adjusted_count("ot=th:0"), 1.0);
        assert_eq!(adjusted_count("ot=th:8"), 2.0);
        assert_eq!(adjusted_count("vendor=x, ot=rv:abc;th:c"), 4.0);
        assert_eq!(adjusted_count("ot=th:zz"), 1.0);
        assert_eq!(adjusted_count("ot=th:123456789abcdef0"), 1.0);
    }

    #[test]
    fn counts_buckets_and_dimensions() {
        let m = SpanMetrics::new(SpanMetricsConfig {
            buckets_ms: vec![10.0, 100.0],
            dimensions: vec!["http.route".into()],
            ..SpanMetricsConfig::default()
        });
        let rows = vec![
            span("api", "GET", 5, "STATUS_CODE_UNSET"),
            span("api", "GET", 10, "STATUS_CODE_UNSET"),
            span("api", "GET", 50, "STATUS_CODE_UNSET"),
            span("api", "GET", 500, "STATUS_CODE_UNSET"),
            span("api", "GET", 7, "STATUS_CODE_ERROR"),
        ];
        m.observe_rows("t1", &rows, &[1.0, 1.0, 1.0, 2.0, 1.0]);
        let out = m.samples(42);
        let rows = &out["t1"];
        let ok = [("status_code", "STATUS_CODE_UNSET"), ("http_route", "/pay")];
        assert_eq!(value(rows, CALLS, &ok), 5.0);
        assert_eq!(
            value(rows, CALLS, &[("status_code", "STATUS_CODE_ERROR")]),
            1.0
        );
        let bucket = format!("{DURATION}_bucket");
        let le = |b: &'static str| [ok[0], ok[1], ("le", b)];
        assert_eq!(value(rows, &bucket, &le("10")), 2.0);
        assert_eq!(value(rows, &bucket, &le("100")), 3.0);
        assert_eq!(value(rows, &bucket, &le("+Inf")), 5.0);
        assert_eq!(
            value(rows, &format!("{DURATION}_sum"), &ok),
            5.0 + 10.0 + 50.0 + 1000.0
        );
        assert_eq!(value(rows, &format!("{DURATION}_count"), &ok), 5.0);
        assert!(rows.iter().all(|r| r.timestamp_ns == 42));
        // Cumulative: the next interval repeats the totals.
        assert_eq!(value(&m.samples(43)["t1"], CALLS, &ok), 5.0);
    }
}
