//! RED time series per service (and operation) computed from spans, for Jaeger's
//! Monitor tab (`api/jaeger_monitor.rs` parses its parameters and renders the
//! answer as Jaeger's `MetricFamily`).
//!
//! Jaeger computes these with PromQL over the spanmetrics series. Osprey computes them
//! from the spans themselves, at every `step` from `endTs - lookback` to `endTs`, over
//! the `ratePer` window ending there:
//! - calls: spans in the window per second;
//! - errors: the fraction of those spans with an error status (no point when there
//!   were no calls, as PromQL's 0/0 gives none either);
//! - latencies: the `quantile` of their durations in ms — exact (the nearest-rank
//!   value of the spans), where PromQL's `histogram_quantile` interpolates within
//!   buckets.

use std::collections::BTreeMap;

use datafusion::prelude::{Expr, col, lit};
use datafusion::scalar::ScalarValue;

use crate::columns::{i64s, strings, timestamps};
use crate::sql::session::signal_session;
use crate::{QueryError, QueryState};
use osprey_storage::Signal;

/// Most points one series may have.
pub const MAX_POINTS: i64 = 11_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Calls,
    Errors,
    Latencies,
}

impl Kind {
    /// The kind named in the path (`/api/metrics/{kind}`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "calls" => Some(Kind::Calls),
            "errors" => Some(Kind::Errors),
            "latencies" => Some(Kind::Latencies),
            _ => None,
        }
    }
}

/// What to compute: `kind` for `services` at every `step_ms` from
/// `end_ms - lookback_ms` to `end_ms`, each over the `rate_per_ms` before it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    pub kind: Kind,
    pub services: Vec<String>,
    pub group_by_operation: bool,
    pub quantile: f64,
    pub end_ms: i64,
    pub lookback_ms: i64,
    pub step_ms: i64,
    pub rate_per_ms: i64,
    /// Stored span kinds (`SPAN_KIND_SERVER`, …).
    pub span_kinds: Vec<String>,
}

/// One group's spans: (start ns, duration ns, error), sorted by start.
type Spans = Vec<(i64, i64, bool)>;

fn any_of(column: &str, values: &[String]) -> Expr {
    values
        .iter()
        .map(|v| col(column).eq(lit(v.as_str())))
        .reduce(Expr::or)
        .unwrap_or(lit(false))
}

/// One series of the answer: a service (and operation) and its points.
#[derive(Debug, Clone, PartialEq)]
pub struct RedSeries {
    pub service: String,
    pub operation: Option<String>,
    /// (ms since the epoch, value), by time; no point where the value is undefined.
    pub points: Vec<(i64, f64)>,
}

/// The series for `q`, by service and operation.
pub async fn query(
    st: &QueryState,
    tenant: &str,
    q: &MetricsQuery,
) -> Result<Vec<RedSeries>, QueryError> {
    let ms = 1_000_000i64;
    let first = q.end_ms.saturating_sub(q.lookback_ms);
    let ts = |ms_: i64| {
        lit(ScalarValue::TimestampNanosecond(
            Some(ms_.saturating_mul(ms)),
            Some("UTC".into()),
        ))
    };
    let ctx = signal_session(st, tenant, Signal::Spans, None).await?;
    let df = ctx
        .table("spans")
        .await?
        .filter(
            any_of("service", &q.services)
                .and(any_of("kind", &q.span_kinds))
                .and(col("start_time").gt(ts(first.saturating_sub(q.rate_per_ms))))
                .and(col("start_time").lt_eq(ts(q.end_ms))),
        )?
        .select_columns(&[
            "service",
            "name",
            "start_time",
            "duration_ns",
            "status_code",
        ])?;
    let mut groups: BTreeMap<(String, Option<String>), Spans> = BTreeMap::new();
    for b in df.collect().await? {
        let (service, name) = (strings(&b, "service")?, strings(&b, "name")?);
        let (start, dur) = (timestamps(&b, "start_time")?, i64s(&b, "duration_ns")?);
        let status = strings(&b, "status_code")?;
        for i in 0..b.num_rows() {
            let op = q.group_by_operation.then(|| name.value(i).to_string());
            groups
                .entry((service.value(i).to_string(), op))
                .or_default()
                .push((
                    start.value(i),
                    dur.value(i),
                    status.value(i) == "STATUS_CODE_ERROR",
                ));
        }
    }
    let window_s = q.rate_per_ms as f64 / 1000.0;
    let mut metrics = Vec::new();
    for ((service, op), mut spans) in groups {
        spans.sort_unstable_by_key(|s| s.0);
        let mut points = Vec::new();
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut t = first;
        while t <= q.end_ms {
            // The window (t - ratePer, t], as two pointers over the sorted starts.
            while hi < spans.len() && spans[hi].0 <= t.saturating_mul(ms) {
                hi += 1;
            }
            while lo < hi && spans[lo].0 <= t.saturating_sub(q.rate_per_ms).saturating_mul(ms) {
                lo += 1;
            }
            let w = &spans[lo..hi];
            let value = match q.kind {
                Kind::Calls => Some(w.len() as f64 / window_s),
                Kind::Errors if w.is_empty() => None,
                Kind::Errors => Some(w.iter().filter(|s| s.2).count() as f64 / w.len() as f64),
                Kind::Latencies if w.is_empty() => None,
                Kind::Latencies => {
                    let mut d: Vec<i64> = w.iter().map(|s| s.1).collect();
                    d.sort_unstable();
                    let rank = ((q.quantile * d.len() as f64).ceil() as usize).clamp(1, d.len());
                    Some(d[rank - 1] as f64 / 1e6)
                }
            };
            if let Some(v) = value {
                points.push((t, v));
            }
            t = match t.checked_add(q.step_ms) {
                Some(next) => next,
                None => break,
            };
        }
        metrics.push(RedSeries {
            service,
            operation: op,
            points,
        });
    }
    Ok(metrics)
}
