//! Jaeger's Monitor tab: `/api/metrics/{latencies,calls,errors}`, RED series computed
//! from spans (`traces/red.rs`), answered as Jaeger's OpenMetrics-style
//! `MetricFamily` JSON; errors in v1's shape.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;
use serde::Serialize;

use crate::columns::rfc3339;
use crate::traces::red::{self, Kind, MAX_POINTS, MetricsQuery, RedSeries};
use crate::traces::stored_kind;
use crate::{QueryError, QueryState};

use super::{jaeger_v1::jaeger_error, now_ns};

/// Jaeger's Monitor tab: `/api/metrics/{calls,errors,latencies}`.
pub(super) async fn jaeger_metrics_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(kind): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let kind = Kind::parse(&kind).ok_or_else(|| {
            QueryError::NotFound(format!(
                "unknown metric {kind:?}; expected calls, errors or latencies"
            ))
        })?;
        let query = metrics_query(kind, &q, now_ns() / 1_000_000)?;
        let series = red::query(&st, &tenant, &query).await?;
        Ok::<_, QueryError>(MetricFamily::new(&query, series))
    };
    // The Monitor-tab API answers with the metric family itself, errors in v1's shape.
    match run.await {
        Ok(family) => Json(family).into_response(),
        Err(e) => jaeger_error(e),
    }
}

/// Jaeger's `MetricFamily` (`proto/api_v2/metrics/openmetrics.proto` as JSON).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MetricFamily {
    name: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    help: String,
    metrics: Vec<Metric>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Metric {
    labels: Vec<Label>,
    metric_points: Vec<MetricPoint>,
}

#[derive(Debug, Serialize)]
struct Label {
    name: &'static str,
    value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MetricPoint {
    gauge_value: GaugeValue,
    timestamp: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GaugeValue {
    double_value: f64,
}

impl MetricFamily {
    fn new(q: &MetricsQuery, series: Vec<RedSeries>) -> Self {
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
        let metrics = series
            .into_iter()
            .map(|s| {
                let mut labels = Vec::new();
                if let Some(op) = s.operation {
                    labels.push(Label {
                        name: "operation",
                        value: op,
                    });
                }
                labels.push(Label {
                    name: "service_name",
                    value: s.service,
                });
                let metric_points = s
                    .points
                    .into_iter()
                    .map(|(ms, v)| MetricPoint {
                        gauge_value: GaugeValue { double_value: v },
                        timestamp: rfc3339_seconds(ms),
                    })
                    .collect();
                Metric {
                    labels,
                    metric_points,
                }
            })
            .collect();
        MetricFamily {
            name,
            kind: "GAUGE",
            help,
            metrics,
        }
    }
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

/// Jaeger's parameters: `service` (repeated, required), `groupByOperation`,
/// `quantile` (latencies), `endTs`, `lookback`, `step`, `ratePer` (ms), `spanKind`
/// (repeated; default `server`).
fn metrics_query(
    kind: Kind,
    params: &[(String, String)],
    now_ms: i64,
) -> Result<MetricsQuery, QueryError> {
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
        Some(v) => go_bool(v)
            .ok_or_else(|| parse_error("groupByOperation", format!("{v:?} is not a boolean")))?,
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
    // Times are nanoseconds inside: every millisecond figure must fit them.
    let max_ms = i64::MAX / 1_000_000;
    if !(0..=max_ms).contains(&end_ms) {
        return Err(parse_error(
            "endTs",
            format!("{end_ms} is out of range (0 to {max_ms} ms)"),
        ));
    }
    for (name, v) in [
        ("lookback", lookback_ms),
        ("step", step_ms),
        ("ratePer", rate_per_ms),
    ] {
        if v <= 0 {
            return Err(parse_error(name, format!("{v} must be positive")));
        }
        if v > max_ms {
            return Err(parse_error(
                name,
                format!("{v} is out of range (at most {max_ms} ms)"),
            ));
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
    Ok(MetricsQuery {
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

/// RFC 3339 at second resolution or finer, as Jaeger prints point timestamps.
pub(super) fn rfc3339_seconds(ms: i64) -> String {
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
        let q = metrics_query(
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
        let err = |k, p: &[(&str, &str)]| metrics_query(k, &params(p), 0).unwrap_err().to_string();
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
