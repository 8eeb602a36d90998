//! Binary operations between scalars and vectors: arithmetic, comparisons (filters, or
//! 0/1 with `bool`) and the set operations, with one-to-one vector matching on all
//! labels or on `on (…)` / `ignoring (…)`.

use std::collections::{BTreeMap, HashSet};

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
    let mut right: BTreeMap<Labels, Sample> = BTreeMap::new();
    for s in r {
        if right.insert(sig(&s), s).is_some() {
            return Err(LogQueryError::syntax(
                "found duplicate series for the match group on the right hand-side of the operation; many-to-many matching not allowed",
            ));
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for s in l {
        let key = sig(&s);
        let Some(other) = right.get(&key) else {
            continue;
        };
        if !seen.insert(key.clone()) {
            return Err(LogQueryError::syntax(
                "found duplicate series for the match group on the left hand-side of the operation; many-to-many matching not allowed",
            ));
        }
        let labels = match m {
            Some(_) => key,
            None => s.labels.clone(),
        };
        if let Some(value) = arithmetic(op, s.value, other.value) {
            out.push(Sample { labels, value });
            continue;
        }
        let holds = op
            .comparison()
            .is_some_and(|c| c.holds(s.value, other.value));
        if return_bool {
            out.push(Sample {
                labels,
                value: if holds { 1.0 } else { 0.0 },
            });
        } else if holds {
            out.push(Sample {
                labels,
                value: s.value,
            });
        }
    }
    Ok(Value::Vector(out))
}
