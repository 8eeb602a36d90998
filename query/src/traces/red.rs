//! Jaeger's Monitor tab API (`/api/metrics/{calls,errors,latencies}`): RED time series
//! per service (and operation), in Jaeger's OpenMetrics-style `MetricFamily` JSON.
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
//!
//! Parameters as Jaeger's: `service` (repeated, required), `groupByOperation`,
//! `quantile` (latencies), `endTs`, `lookback`, `step`, `ratePer` (ms), `spanKind`
//! (repeated; default `server`).

use std::collections::BTreeMap;

use datafusion::prelude::{Expr, col, lit};
use datafusion::scalar::ScalarValue;
use serde_json::{Value, json};

use crate::columns::{i64s, rfc3339, strings, timestamps};
use crate::jaeger_v3::stored_kind;
use crate::sql::session::signal_session;
use crate::{QueryError, QueryState};
use osprey_storage::Signal;

/// Most points one series may have.
const MAX_POINTS: i64 = 11_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Calls,
    Errors,
    Latencies,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "calls" => Some(Kind::Calls),
            "errors" => Some(Kind::Errors),
            "latencies" => Some(Kind::Latencies),
            _ => None,
        }
    }
}

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

fn parse_error(param: &str, why: impl std::fmt::Display) -> QueryError {
    QueryError::BadData(format!("unable to parse param '{param}': {why}"))
}

fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl MetricsQuery {
    pub fn from_params(
        kind: Kind,
        params: &[(String, String)],
        now_ms: i64,
    ) -> Result<Self, QueryError> {
        let all = |name: &str| -> Vec<&str> {
            params
                .iter()
                .filter(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let one = |name: &str| all(name).last().copied();
        let services: Vec<String> = all("service").into_iter().map(str::to_string).collect();
        if services.is_empty() {
            return Err(parse_error(
                "service",
                "please provide at least one service name",
            ));
        }
        let int = |name: &str, default: i64| -> Result<i64, QueryError> {
            one(name).map_or(Ok(default), |v| {
                v.parse::<i64>().map_err(|e| parse_error(name, e))
            })
        };
        let group_by_operation = match one("groupByOperation") {
            None => false,
            Some(v) => go_bool(v).ok_or_else(|| {
                parse_error("groupByOperation", format!("{v:?} is not a boolean"))
            })?,
        };
        let quantile = match (kind, one("quantile")) {
            (Kind::Latencies, None) => {
                return Err(parse_error("quantile", "required for latencies"));
            }
            (Kind::Latencies, Some(v)) => {
                let q: f64 = v.parse().map_err(|e| parse_error("quantile", e))?;
                if !(q > 0.0 && q <= 1.0) {
                    return Err(parse_error(
                        "quantile",
                        format!("{q} is out of range; expected a value in (0, 1]"),
                    ));
                }
                q
            }
            _ => 0.0,
        };
        let end_ms = int("endTs", now_ms)?;
        let lookback_ms = int("lookback", 3_600_000)?;
        let step_ms = int("step", 5_000)?;
        let rate_per_ms = int("ratePer", 600_000)?;
        for (name, v) in [
            ("lookback", lookback_ms),
            ("step", step_ms),
            ("ratePer", rate_per_ms),
        ] {
            if v <= 0 {
                return Err(parse_error(name, format!("{v} must be positive")));
            }
        }
        if lookback_ms / step_ms + 1 > MAX_POINTS {
            return Err(parse_error(
                "step",
                format!(
                    "{} points is too many (at most {MAX_POINTS}); use a larger step",
                    lookback_ms / step_ms + 1
                ),
            ));
        }
        let kinds = all("spanKind");
        let span_kinds = if kinds.is_empty() {
            vec!["SPAN_KIND_SERVER".to_string()]
        } else {
            kinds
                .iter()
                .map(|k| {
                    if k.eq_ignore_ascii_case("unspecified") {
                        Ok("SPAN_KIND_UNSPECIFIED".to_string())
                    } else {
                        stored_kind(k).map(str::to_string).map_err(|_| {
                            parse_error("spanKind", format!("unsupported span kind {k:?}"))
                        })
                    }
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Self {
            kind,
            services,
            group_by_operation,
            quantile,
            end_ms,
            lookback_ms,
            step_ms,
            rate_per_ms,
            span_kinds,
        })
    }
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

/// The metric family for `q`.
pub async fn query(st: &QueryState, tenant: &str, q: &MetricsQuery) -> Result<Value, QueryError> {
    let ms = 1_000_000i64;
    let first = q.end_ms - q.lookback_ms;
    let ts = |ms_: i64| {
        lit(ScalarValue::TimestampNanosecond(
            Some(ms_ * ms),
            Some("UTC".into()),
        ))
    };
    let ctx = signal_session(&st.storage, tenant, Signal::Spans, None).await?;
    let df = ctx
        .table("spans")
        .await?
        .filter(
            any_of("service", &q.services)
                .and(any_of("kind", &q.span_kinds))
                .and(col("start_time").gt(ts(first - q.rate_per_ms)))
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
            while hi < spans.len() && spans[hi].0 <= t * ms {
                hi += 1;
            }
            while lo < hi && spans[lo].0 <= (t - q.rate_per_ms) * ms {
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
                points.push(json!({
                    "gaugeValue": {"doubleValue": v},
                    "timestamp": rfc3339_seconds(t),
                }));
            }
            t += q.step_ms;
        }
        let mut labels = Vec::new();
        if let Some(op) = op {
            labels.push(json!({"name": "operation", "value": op}));
        }
        labels.push(json!({"name": "service_name", "value": service}));
        metrics.push(json!({"labels": labels, "metricPoints": points}));
    }
    let by = if q.group_by_operation {
        "service & operation"
    } else {
        "service"
    };
    let (name, help) = match q.kind {
        Kind::Calls => ("service_call_rate", format!("calls/sec, grouped by {by}")),
        Kind::Errors => (
            "service_error_rate",
            format!(
                "error rate, computed as a fraction of errors/sec over calls/sec, grouped by {by}"
            ),
        ),
        Kind::Latencies => (
            "service_latencies",
            format!("{:.2}th quantile latency, grouped by {by}", q.quantile),
        ),
    };
    Ok(json!({"name": name, "type": "GAUGE", "help": help, "metrics": metrics}))
}

/// RFC 3339 at second resolution or finer, as Jaeger prints point timestamps.
fn rfc3339_seconds(ms: i64) -> String {
    let s = rfc3339(ms * 1_000_000);
    // Drop a zero fraction: 2026-11-22T10:00:05.000000000Z → 2026-11-22T10:00:05Z.
    match s.split_once('.') {
        Some((head, frac)) if frac.trim_end_matches('Z').bytes().all(|b| b == b'0') => {
            format!("{head}Z")
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::params;

    #[test]
    fn parameters_defaults_and_errors() {
        let q = MetricsQuery::from_params(
            Kind::Calls,
            &params(&[
                ("service", "a"),
                ("service", "b"),
                ("groupByOperation", "t"),
            ]),
            10_000_000,
        )
        .unwrap();
        assert_eq!(q.services, ["a", "b"]);
        assert!(q.group_by_operation);
        assert_eq!(
            (q.end_ms, q.lookback_ms, q.step_ms, q.rate_per_ms),
            (10_000_000, 3_600_000, 5_000, 600_000)
        );
        assert_eq!(q.span_kinds, ["SPAN_KIND_SERVER"]);
        let err = |k, p: &[(&str, &str)]| {
            MetricsQuery::from_params(k, &params(p), 0)
                .unwrap_err()
                .to_string()
        };
        assert!(err(Kind::Calls, &[]).contains("please provide at least one service name"));
        assert!(err(Kind::Latencies, &[("service", "a")]).contains("'quantile'"));
        assert!(err(Kind::Latencies, &[("service", "a"), ("quantile", "1.5")]).contains("(0, 1]"));
        assert!(err(Kind::Calls, &[("service", "a"), ("step", "0")]).contains("'step'"));
        assert!(
            err(Kind::Calls, &[("service", "a"), ("spanKind", "sideways")]).contains("'spanKind'")
        );
        assert!(
            err(
                Kind::Calls,
                &[("service", "a"), ("groupByOperation", "yes")]
            )
            .contains("'groupByOperation'")
        );
    }

    #[test]
    fn timestamps_drop_zero_fractions() {
        assert_eq!(rfc3339_seconds(1_000), "1970-01-01T00:00:01Z");
        assert_eq!(rfc3339_seconds(1_500), "1970-01-01T00:00:01.500000000Z");
    }
}
