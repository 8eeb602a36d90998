//! Binary operations between scalars and vectors: arithmetic, comparisons (filters, or
//! 0/1 with `bool`) and the set operations, with vector matching on all labels or on
//! `on (…)` / `ignoring (…)`, one-to-one or grouped (`group_left` / `group_right`).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::ast::{BinOp, Labels, VectorMatching};
use super::eval::{Sample, Value};
use crate::LogQueryError;

pub fn apply(
    op: BinOp,
    return_bool: bool,
    matching: Option<&VectorMatching>,
    l: Value,
    r: Value,
) -> Result<Value, LogQueryError> {
    match (l, r) {
        (Value::Scalar(a), Value::Scalar(b)) => Ok(Value::Scalar(scalar_op(op, a, b)?)),
        (Value::Vector(v), Value::Scalar(b)) => with_scalar(op, return_bool, v, b, false),
        (Value::Scalar(a), Value::Vector(v)) => with_scalar(op, return_bool, v, a, true),
        (Value::Vector(a), Value::Vector(b)) => vectors(op, return_bool, matching, a, b),
    }
}

fn arithmetic(op: BinOp, a: f64, b: f64) -> Option<f64> {
    Some(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        // Loki answers NaN, not ±Inf, for a zero divisor.
        BinOp::Div if b == 0.0 => f64::NAN,
        BinOp::Mod if b == 0.0 => f64::NAN,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        _ => return None,
    })
}

fn scalar_op(op: BinOp, a: f64, b: f64) -> Result<f64, LogQueryError> {
    if let Some(v) = arithmetic(op, a, b) {
        return Ok(v);
    }
    match op.comparison() {
        Some(c) => Ok(if c.holds(a, b) { 1.0 } else { 0.0 }),
        None => Err(set_error()),
    }
}

fn set_error() -> LogQueryError {
    LogQueryError::syntax("set operations (and, or, unless) are only allowed between vectors")
}

fn with_scalar(
    op: BinOp,
    return_bool: bool,
    v: Vec<Sample>,
    s: f64,
    scalar_left: bool,
) -> Result<Value, LogQueryError> {
    if op.is_set() {
        return Err(set_error());
    }
    let mut out = Vec::with_capacity(v.len());
    for sample in v {
        let (a, b) = if scalar_left {
            (s, sample.value)
        } else {
            (sample.value, s)
        };
        if let Some(value) = arithmetic(op, a, b) {
            out.push(Sample { value, ..sample });
            continue;
        }
        let holds = op.comparison().is_some_and(|c| c.holds(a, b));
        if return_bool {
            out.push(Sample {
                value: if holds { 1.0 } else { 0.0 },
                ..sample
            });
        } else if holds {
            out.push(sample);
        }
    }
    Ok(Value::Vector(out))
}

fn vectors(
    op: BinOp,
    return_bool: bool,
    m: Option<&VectorMatching>,
    l: Vec<Sample>,
    r: Vec<Sample>,
) -> Result<Value, LogQueryError> {
    let sig = |s: &Sample| VectorMatching::signature(m, &s.labels);
    match op {
        BinOp::And | BinOp::Unless => {
            let right: HashSet<Labels> = r.iter().map(sig).collect();
            let keep = op == BinOp::And;
            return Ok(Value::Vector(
                l.into_iter()
                    .filter(|s| right.contains(&sig(s)) == keep)
                    .collect(),
            ));
        }
        BinOp::Or => {
            let left: HashSet<Labels> = l.iter().map(sig).collect();
            let mut out = l;
            out.extend(r.into_iter().filter(|s| !left.contains(&sig(s))));
            return Ok(Value::Vector(out));
        }
        _ => {}
    }
    let group = m.and_then(|m| m.group.as_ref());
    // The "many" side is walked; the "one" side is looked up by signature.
    let (many, one) = match group {
        Some(g) if !g.left => (r, l),
        _ => (l, r),
    };
    let mut ones: BTreeMap<Labels, Sample> = BTreeMap::new();
    for s in one {
        if ones.insert(sig(&s), s).is_some() {
            let side = if group.is_some_and(|g| !g.left) {
                "left"
            } else {
                "right"
            };
            return Err(LogQueryError::syntax(format!(
                "found duplicate series for the match group on the {side} hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side"
            )));
        }
    }
    // Per match group, the result label sets already written.
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for s in many {
        let key = sig(&s);
        let Some(other) = ones.get(&key) else {
            continue;
        };
        // Operands stay in the query's order whichever side is walked.
        let (a, b) = match group {
            Some(g) if !g.left => (other.value, s.value),
            _ => (s.value, other.value),
        };
        let labels = result_labels(m, s.labels, &key, &other.labels);
        let seen = matched.entry(key).or_default();
        if group.is_none() && !seen.is_empty() {
            return Err(LogQueryError::syntax(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
            ));
        }
        if !seen.insert(labels.clone()) {
            return Err(LogQueryError::syntax(
                "multiple matches for labels: grouping labels must ensure unique matches",
            ));
        }
        if let Some(value) = arithmetic(op, a, b) {
            out.push(Sample { labels, value });
            continue;
        }
        let holds = op.comparison().is_some_and(|c| c.holds(a, b));
        if return_bool {
            out.push(Sample {
                labels,
                value: if holds { 1.0 } else { 0.0 },
            });
        } else if holds {
            out.push(Sample { labels, value: a });
        }
    }
    Ok(Value::Vector(out))
}

/// A matched pair's labels, as Prometheus builds them: one-to-one keeps the match
/// signature (all labels without `on`/`ignoring`); grouping keeps the "many" side's
/// labels and copies the included ones from the "one" side (removing those it lacks).
fn result_labels(
    m: Option<&VectorMatching>,
    many: Labels,
    signature: &Labels,
    one: &Labels,
) -> Labels {
    let Some(g) = m.and_then(|m| m.group.as_ref()) else {
        return match m {
            Some(_) => signature.clone(),
            None => many,
        };
    };
    let mut labels = many;
    for name in &g.include {
        match one.get(name) {
            Some(v) if !v.is_empty() => {
                labels.insert(name.clone(), v.clone());
            }
            _ => {
                labels.remove(name);
            }
        }
    }
    labels
}
