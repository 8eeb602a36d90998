//! Prometheus' JSON for PromQL answers: an evaluation's `{"resultType", "result"}`,
//! series label sets and exemplar groups, with times as seconds and values as Go
//! formats floats (`format_value`).
//!
//! A matrix is serialized straight from its series ([`Matrix`]), not through a
//! `serde_json::Value` per point: a range query of a few hundred series has tens of
//! thousands of points, and building their trees was a tenth of its time. Objects
//! keep their keys in `serde_json::Map`'s (sorted) order, so both paths write the
//! same bytes.

use osprey_promql::{Labels, Query, RawSeries, Value, format_value};
use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple};
use serde::{Serialize, Serializer};
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

/// A time in seconds, serialized as [`secs`] writes it.
struct Secs(i64);

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 % 1000 == 0 {
            s.serialize_i64(self.0 / 1000)
        } else {
            s.serialize_f64(self.0 as f64 / 1000.0)
        }
    }
}

/// A label set as an object (labels are sorted by name, as object keys are).
struct LabelsJson<'a>(&'a Labels);

impl Serialize for LabelsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pairs = self.0.pairs();
        let mut m = s.serialize_map(Some(pairs.len()))?;
        for (k, v) in pairs {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// One series' `[[time, "value"], ...]`.
struct Points<'a>(&'a RawSeries);

impl Serialize for Points<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.ts.len()))?;
        for (t, v) in self.0.ts.iter().zip(&self.0.vals) {
            seq.serialize_element(&Point(*t, *v))?;
        }
        seq.end()
    }
}

/// A sample `[time, "value"]`, the time in ms (Loki's answers share it).
pub(super) struct Point(pub i64, pub f64);

impl Serialize for Point {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&Secs(self.0))?;
        t.serialize_element(&format_value(self.1))?;
        t.end()
    }
}

/// A matrix's `result`: `[{"metric", "values"}, ...]`.
pub(super) struct Matrix(Vec<RawSeries>);

impl Serialize for Matrix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for series in &self.0 {
            seq.serialize_element(&SeriesJson(series))?;
        }
        seq.end()
    }
}

struct SeriesJson<'a>(&'a RawSeries);

impl Serialize for SeriesJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("metric", &LabelsJson(&self.0.labels))?;
        m.serialize_entry("values", &Points(self.0))?;
        m.end()
    }
}

/// An evaluation's `data`: a JSON tree, or a matrix written as it is serialized.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Rendered {
    Json(Json),
    Matrix {
        result: Matrix,
        #[serde(rename = "resultType")]
        result_type: &'static str,
    },
}

impl Rendered {
    fn matrix(series: Vec<RawSeries>) -> Self {
        Rendered::Matrix {
            result: Matrix(series),
            result_type: "matrix",
        }
    }
}

/// Prometheus' `data` object for an evaluation.
pub(super) fn render(e: Evaluation) -> Rendered {
    if e.query.instant {
        render_instant(e.value, e.query.start, e.order)
    } else {
        render_range(e.value, &e.query)
    }
}

fn render_instant(v: Value, t: i64, order: Order) -> Rendered {
    let json = match v {
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
        Value::Matrix(m) => return Rendered::matrix(m),
    };
    Rendered::Json(json)
}

fn render_range(v: Value, q: &Query) -> Rendered {
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
    Rendered::matrix(series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_serializes_as_its_json_tree_would() {
        let series = RawSeries {
            labels: Labels::new(vec![
                ("job".into(), "api".into()),
                ("__name__".into(), "up".into()),
            ]),
            ts: vec![1_700_000_000_000, 1_700_000_000_250],
            vals: vec![1.0, f64::NAN],
        };
        let tree = json!({
            "resultType": "matrix",
            "result": [{
                "metric": metric_json(&series.labels),
                "values": [[secs(1_700_000_000_000), "1"], [secs(1_700_000_000_250), "NaN"]],
            }],
        });
        let direct = serde_json::to_string(&Rendered::matrix(vec![series])).unwrap();
        assert_eq!(direct, serde_json::to_string(&tree).unwrap());
    }

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
