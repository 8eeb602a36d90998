//! Evaluating a metric query at one instant over the log lines its ranges selected.
//!
//! The caller reads the lines: [`window`] gives each range's time window, `(start, end]`
//! as Loki's range vectors are (the start excluded), and [`evaluate`] takes them keyed
//! by [`LogRange::id`], so this crate stays free of storage.

use std::collections::{BTreeMap, HashMap};

use super::ast::*;
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

/// Evaluates the query at `t_ns`.
pub fn evaluate(expr: &MetricExpr, t_ns: i64, data: &Data) -> Result<Value, LogQueryError> {
    Ok(match expr {
        MetricExpr::Number(n) => Value::Scalar(*n),
        MetricExpr::Vector(n) => Value::Vector(vec![Sample {
            labels: Labels::new(),
            value: *n,
        }]),
        MetricExpr::Negate(inner) => match evaluate(inner, t_ns, data)? {
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
            op,
            param,
            range,
            grouping,
        } => {
            let streams = data.get(&range.id).map_or(&[][..], Vec::as_slice);
            Value::Vector(range_vector(
                *op,
                *param,
                range,
                grouping.as_ref(),
                t_ns,
                streams,
            )?)
        }
        MetricExpr::Aggregate {
            op,
            param,
            grouping,
            inner,
        } => match evaluate(inner, t_ns, data)? {
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
            let l = evaluate(lhs, t_ns, data)?;
            let r = evaluate(rhs, t_ns, data)?;
            super::binary::apply(*op, *return_bool, matching.as_ref(), l, r)?
        }
    })
}

/// The samples of a range: each line through the pipeline (and `unwrap`), grouped by
/// its labels, then the range function over each group.
fn range_vector(
    op: RangeOp,
    param: Option<f64>,
    r: &LogRange,
    grouping: Option<&Grouping>,
    t_ns: i64,
    streams: &[Stream],
) -> Result<Vec<Sample>, LogQueryError> {
    let (start, end) = window(r, t_ns);
    let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for s in streams {
        for l in &s.entries {
            let ts = &l.ts_ns;
            if *ts <= start || *ts > end {
                continue;
            }
            let mut e = Entry::new(&s.labels, &l.line);
            e.add_metadata(&l.metadata);
            if !pipeline::run(&r.log.pipeline, &mut e) {
                continue;
            }
            let value = match &r.unwrap {
                None if matches!(op, RangeOp::BytesOverTime | RangeOp::BytesRate) => {
                    e.line.len() as f64
                }
                None => 1.0,
                Some(u) => match unwrapped(u, &mut e) {
                    Some(v) => v,
                    None => continue,
                },
            };
            let labels = finish_labels(e.labels)?;
            series.entry(labels).or_default().push((*ts, value));
        }
    }
    if op == RangeOp::AbsentOverTime {
        return Ok(absent(&r.log, series.is_empty()));
    }
    if let Some(g) = grouping {
        let mut grouped: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        for (l, points) in series {
            grouped
                .entry(g.group_labels(&l))
                .or_default()
                .extend(points);
        }
        for points in grouped.values_mut() {
            points.sort_by_key(|(ts, _)| *ts);
        }
        series = grouped;
    }
    let seconds = r.range_ns as f64 / 1e9;
    Ok(series
        .into_iter()
        .filter_map(|(labels, points)| {
            super::functions::over_time(op, param, &points, seconds)
                .map(|value| Sample { labels, value })
        })
        .collect())
}

/// `| unwrap`: the label's value as the sample (the label leaves the series), then the
/// post-unwrap filters; `None` when a filter drops the line.
fn unwrapped(u: &Unwrap, e: &mut Entry<'_>) -> Option<f64> {
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
fn finish_labels(mut labels: Labels) -> Result<Labels, LogQueryError> {
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
