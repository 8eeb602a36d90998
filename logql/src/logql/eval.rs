//! Evaluating a metric query at one instant, or at every step of a range query, over
//! the log lines its ranges selected.
//!
//! The caller reads the lines: [`window`] gives each range's time window, `(start, end]`
//! as Loki's range vectors are (the start excluded), and the lines are keyed by
//! [`LogRange::id`], so this crate stays free of storage. [`prepare`] runs each line
//! through its range's pipeline once, however many steps' windows hold it;
//! [`evaluate_at`] then computes the query at one step from those samples.
//! [`evaluate`] is both for one instant.

use std::collections::{BTreeMap, HashMap};

use super::ast::*;
use super::extract::extractors;
use super::pipeline::{self, ERROR_DETAILS_LABEL, ERROR_LABEL, Entry};
use crate::LogQueryError;

/// One stream's lines in a range's window, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub labels: Labels,
    pub entries: Vec<Line>,
}

/// A log line with its time and structured metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Line {
    pub ts_ns: i64,
    pub line: String,
    /// Labels of this line only (Loki's structured metadata; OTLP record attributes).
    pub metadata: Vec<(String, String)>,
}

/// The lines of each range, by [`LogRange::id`].
pub type Data = HashMap<usize, Vec<Stream>>;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<Sample>),
}

/// The window a range reads at `t_ns`: `(start, end]`.
pub fn window(r: &LogRange, t_ns: i64) -> (i64, i64) {
    let end = t_ns - r.offset_ns;
    (end - r.range_ns, end)
}

/// A range's samples for a whole query: its lines through the pipeline (and `unwrap`,
/// and the range's own `by`), per label set, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub(super) series: BTreeMap<Labels, Vec<(i64, f64)>>,
}

/// Every range's samples, by [`LogRange::id`].
pub type Prepared = HashMap<usize, Extracted>;

/// Evaluates the query at `t_ns`.
pub fn evaluate(expr: &MetricExpr, t_ns: i64, data: &Data) -> Result<Value, LogQueryError> {
    let prepared = prepare(expr, data, &[t_ns])?;
    evaluate_at(expr, t_ns, &prepared)
}

/// The samples of each range of `expr` from its lines in `data`, of the lines inside
/// the window of at least one of `steps` (ascending).
pub fn prepare(expr: &MetricExpr, data: &Data, steps: &[i64]) -> Result<Prepared, LogQueryError> {
    let mut out = Prepared::new();
    for mut x in extractors(expr, steps) {
        let streams = data.get(&x.range().id).map_or(&[][..], Vec::as_slice);
        for s in streams {
            x.set_stream(&s.labels);
            for l in &s.entries {
                x.push(l.ts_ns, &l.line, &l.metadata)?;
            }
        }
        out.insert(x.range().id, x.finish());
    }
    Ok(out)
}

/// Evaluates the query at `t_ns` over the samples [`prepare`] gave for steps including
/// `t_ns`.
pub fn evaluate_at(expr: &MetricExpr, t_ns: i64, data: &Prepared) -> Result<Value, LogQueryError> {
    Ok(match expr {
        MetricExpr::Number(n) => Value::Scalar(*n),
        MetricExpr::Vector(n) => Value::Vector(vec![Sample {
            labels: Labels::new(),
            value: *n,
        }]),
        MetricExpr::LabelReplace {
            inner,
            dst,
            replacement,
            src,
            regex,
        } => match evaluate_at(inner, t_ns, data)? {
            Value::Vector(v) => Value::Vector(label_replace(v, dst, replacement, src, regex)?),
            Value::Scalar(_) => {
                return Err(LogQueryError::syntax(
                    "label_replace needs a vector, not a scalar",
                ));
            }
        },
        MetricExpr::Negate(inner) => match evaluate_at(inner, t_ns, data)? {
            Value::Scalar(n) => Value::Scalar(-n),
            Value::Vector(v) => Value::Vector(
                v.into_iter()
                    .map(|s| Sample {
                        value: -s.value,
                        ..s
                    })
                    .collect(),
            ),
        },
        MetricExpr::Range {
            op, param, range, ..
        } => {
            let empty = Extracted::default();
            let samples = data.get(&range.id).unwrap_or(&empty);
            Value::Vector(range_at(*op, *param, range, t_ns, samples))
        }
        MetricExpr::Aggregate {
            op,
            param,
            grouping,
            inner,
        } => match evaluate_at(inner, t_ns, data)? {
            Value::Vector(v) => Value::Vector(aggregate(*op, *param, grouping.as_ref(), v)),
            Value::Scalar(_) => {
                return Err(LogQueryError::syntax(
                    "a vector aggregation needs a vector, not a scalar",
                ));
            }
        },
        MetricExpr::Binary {
            op,
            return_bool,
            matching,
            lhs,
            rhs,
        } => {
            let l = evaluate_at(lhs, t_ns, data)?;
            let r = evaluate_at(rhs, t_ns, data)?;
            super::binary::apply(*op, *return_bool, matching.as_ref(), l, r)?
        }
    })
}

/// The range function at `t_ns` over each series' samples in that step's window.
fn range_at(
    op: RangeOp,
    param: Option<f64>,
    r: &LogRange,
    t_ns: i64,
    samples: &Extracted,
) -> Vec<Sample> {
    let (start, end) = window(r, t_ns);
    let in_window = |points: &[(i64, f64)]| {
        let lo = points.partition_point(|p| p.0 <= start);
        let hi = points.partition_point(|p| p.0 <= end);
        lo..hi.max(lo)
    };
    if op == RangeOp::AbsentOverTime {
        let nothing = samples.series.values().all(|p| in_window(p).is_empty());
        return absent(&r.log, nothing);
    }
    let seconds = r.range_ns as f64 / 1e9;
    samples
        .series
        .iter()
        .filter_map(|(labels, points)| {
            super::functions::over_time(op, param, &points[in_window(points)], seconds).map(
                |value| Sample {
                    labels: labels.clone(),
                    value,
                },
            )
        })
        .collect()
}

/// `| unwrap`: the label's value as the sample (the label leaves the series), then the
/// post-unwrap filters; `None` when a filter drops the line.
pub(super) fn unwrapped(u: &Unwrap, e: &mut Entry<'_>) -> Option<f64> {
    // A line without the label (or with it empty) has no sample, as in Loki.
    let text = e.labels.get(&u.label).filter(|t| !t.is_empty())?;
    let value = match pipeline::number_of(text, u.kind) {
        Some(v) => v,
        None => {
            let details = format!("cannot unwrap {text:?} of label {}", u.label);
            if !e.labels.contains_key(ERROR_LABEL) {
                e.labels
                    .insert(ERROR_LABEL.into(), "SampleExtractionErr".into());
                e.labels.insert(ERROR_DETAILS_LABEL.into(), details);
            }
            0.0
        }
    };
    for f in &u.post_filters {
        if !pipeline::label_filter(f, e) {
            return None;
        }
    }
    e.labels.remove(&u.label);
    Some(value)
}

/// A sample's labels as Loki returns them: empty values dropped; a remaining
/// `__error__` fails the query, as in Loki, unless a label filter skipped it.
pub(super) fn finish_labels(mut labels: Labels) -> Result<Labels, LogQueryError> {
    labels.retain(|_, v| !v.is_empty());
    if let Some(err) = labels.get(ERROR_LABEL) {
        let series = labels
            .iter()
            .filter(|(k, _)| *k != ERROR_DETAILS_LABEL)
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(LogQueryError::Pipeline(format!(
            "pipeline error: '{err}' for series: '{{{series}}}'. Use a label filter to intentionally skip this error. (e.g | __error__!=\"{err}\"). To skip all potential errors you can match empty errors.(e.g __error__=\"\") The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )"
        )));
    }
    labels.remove(ERROR_DETAILS_LABEL);
    Ok(labels)
}

/// `absent_over_time`: one sample, labelled by the selector's equality matchers, when
/// nothing matched.
fn absent(log: &LogExpr, nothing: bool) -> Vec<Sample> {
    if !nothing {
        return Vec::new();
    }
    let mut labels = Labels::new();
    for m in &log.matchers {
        if m.op == MatchOp::Eq && !labels.contains_key(&m.name) {
            labels.insert(m.name.clone(), m.value.clone());
        }
    }
    vec![Sample { labels, value: 1.0 }]
}

/// PromQL's `label_replace`: where the (anchored) regex matches the `src` label's
/// value, `dst` becomes the expanded replacement (removed when empty); two samples left
/// with one label set are an error.
fn label_replace(
    v: Vec<Sample>,
    dst: &str,
    replacement: &str,
    src: &str,
    regex: &regex::Regex,
) -> Result<Vec<Sample>, LogQueryError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let value = s.labels.get(src).map_or("", String::as_str).to_string();
        if let Some(caps) = regex.captures(&value) {
            let mut new = String::new();
            caps.expand(replacement, &mut new);
            if new.is_empty() {
                s.labels.remove(dst);
            } else {
                s.labels.insert(dst.to_string(), new);
            }
        }
        if !seen.insert(s.labels.clone()) {
            return Err(LogQueryError::Pipeline(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
        out.push(s);
    }
    Ok(out)
}

/// A vector aggregation, PromQL's way.
fn aggregate(op: AggOp, param: Option<f64>, g: Option<&Grouping>, v: Vec<Sample>) -> Vec<Sample> {
    let group_of = |l: &Labels| g.map_or_else(Labels::new, |g| g.group_labels(l));
    match op {
        AggOp::Sort | AggOp::SortDesc => {
            let mut v = v;
            v.sort_by(|a, b| a.value.total_cmp(&b.value));
            if op == AggOp::SortDesc {
                v.reverse();
            }
            return v;
        }
        AggOp::Topk | AggOp::Bottomk => {
            let k = param.unwrap_or(1.0) as usize;
            let mut groups: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
            for s in v {
                groups.entry(group_of(&s.labels)).or_default().push(s);
            }
            let mut out = Vec::new();
            for (_, mut members) in groups {
                members.sort_by(|a, b| match op {
                    AggOp::Topk => b.value.total_cmp(&a.value),
                    _ => a.value.total_cmp(&b.value),
                });
                members.truncate(k);
                out.extend(members);
            }
            return out;
        }
        _ => {}
    }
    let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
    for s in v {
        groups.entry(group_of(&s.labels)).or_default().push(s.value);
    }
    groups
        .into_iter()
        .map(|(labels, values)| Sample {
            labels,
            value: super::functions::combine(op, &values),
        })
        .collect()
}
