//! Prometheus' JSON for PromQL answers: an evaluation's `{"resultType", "result"}`,
//! series label sets and exemplar groups, with times as seconds and values as Go
//! formats floats (`format_value`).

use osprey_promql::{Labels, Query, RawSeries, Value, format_value};
use serde_json::{Value as Json, json};

use crate::promql::{Evaluation, ExemplarGroup, Order};

/// A time in seconds as Prometheus writes it: whole seconds as an integer, else with
/// the milliseconds as a fraction.
pub(super) fn secs(ms: i64) -> Json {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

/// A label set as a JSON object.
pub(super) fn metric_json(l: &Labels) -> Json {
    Json::Object(
        l.pairs()
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    )
}

/// `/api/v1/series`' data: the label sets.
pub(super) fn series(labels: &[Labels]) -> Json {
    Json::Array(labels.iter().map(metric_json).collect())
}

/// `/api/v1/query_exemplars`' data: `[{"seriesLabels", "exemplars": [{"labels",
/// "value", "timestamp"}]}]`.
pub(super) fn exemplars(groups: Vec<ExemplarGroup>) -> Json {
    let group = |g: ExemplarGroup| {
        let exemplars: Vec<Json> = g
            .exemplars
            .into_iter()
            .map(|e| {
                let labels: serde_json::Map<String, Json> = e
                    .labels
                    .into_iter()
                    .map(|(k, v)| (k, Json::String(v)))
                    .collect();
                json!({
                    "labels": labels,
                    "value": format_value(e.value),
                    "timestamp": secs(e.timestamp_ms),
                })
            })
            .collect();
        json!({"seriesLabels": metric_json(&g.series), "exemplars": exemplars})
    };
    Json::Array(groups.into_iter().map(group).collect())
}

/// Prometheus' `data` object for an evaluation.
pub(super) fn render(e: Evaluation) -> Json {
    if e.query.instant {
        render_instant(e.value, e.query.start, e.order)
    } else {
        render_range(e.value, &e.query)
    }
}

fn render_instant(v: Value, t: i64, order: Order) -> Json {
    match v {
        Value::Scalar(s) => json!({
            "resultType": "scalar",
            "result": [secs(t), format_value(s.first().copied().unwrap_or(f64::NAN))],
        }),
        Value::String(s) => json!({"resultType": "string", "result": [secs(t), s]}),
        Value::Vector(series) => {
            let mut rows: Vec<(Labels, f64)> = series
                .into_iter()
                .filter_map(|s| s.vals.first().copied().flatten().map(|v| (s.labels, v)))
                .collect();
            // NaN last in both directions, as 2.42's sort and sort_desc order it.
            let by_value = |a: f64, b: f64, desc: bool| match (a.is_nan(), b.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if desc => b.total_cmp(&a),
                _ => a.total_cmp(&b),
            };
            match order {
                Order::Labels => rows.sort_by(|a, b| a.0.cmp(&b.0)),
                Order::Ascending => rows.sort_by(|a, b| by_value(a.1, b.1, false)),
                Order::Descending => rows.sort_by(|a, b| by_value(a.1, b.1, true)),
            }
            let result: Vec<Json> = rows
                .into_iter()
                .map(|(l, v)| json!({"metric": metric_json(&l), "value": [secs(t), format_value(v)]}))
                .collect();
            json!({"resultType": "vector", "result": result})
        }
        Value::Matrix(m) => json!({"resultType": "matrix", "result": matrix_json(m)}),
    }
}

fn matrix_json(m: Vec<RawSeries>) -> Vec<Json> {
    m.into_iter()
        .map(|s| {
            let values: Vec<Json> =
                s.ts.iter()
                    .zip(&s.vals)
                    .map(|(&t, &v)| json!([secs(t), format_value(v)]))
                    .collect();
            json!({"metric": metric_json(&s.labels), "values": values})
        })
        .collect()
}

fn render_range(v: Value, q: &Query) -> Json {
    let t = |i: usize| q.start + i as i64 * q.step;
    let mut series: Vec<RawSeries> = match v {
        Value::Scalar(s) => vec![RawSeries {
            labels: Labels::default(),
            ts: (0..s.len()).map(t).collect(),
            vals: s,
        }],
        Value::Vector(v) => v
            .into_iter()
            .map(|s| {
                let mut r = RawSeries {
                    labels: s.labels,
                    ..Default::default()
                };
                for (i, x) in s.vals.into_iter().enumerate() {
                    if let Some(x) = x {
                        r.ts.push(t(i));
                        r.vals.push(x);
                    }
                }
                r
            })
            .filter(|r| !r.ts.is_empty())
            .collect(),
        // Refused before evaluation; kept total for the type.
        Value::String(_) | Value::Matrix(_) => Vec::new(),
    };
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    json!({"resultType": "matrix", "result": matrix_json(series)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_times_render_like_prometheus() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(secs(1_700_000_000_000), json!(1_700_000_000));
        assert_eq!(secs(1_700_000_000_250), json!(1_700_000_000.25));
    }
}
