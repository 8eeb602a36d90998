//! Binary operators: arithmetic, comparison (filtering or `bool`) and set operators,
//! with `on`/`ignoring` and `group_left`/`group_right` vector matching.

use std::collections::HashMap;

use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use crate::error::{Result, exec};
use crate::eval::Ev;
use crate::labels::Labels;
use crate::value::{Series, Value};

/// `lhs op rhs` on two numbers: the value and whether a comparison keeps it.
fn apply(op: &str, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => return Err(exec(format!("operator {other:?} not allowed here"))),
    })
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Operators whose result drops `__name__` (2.42 keeps it for `atan2`, as it does for
/// filtering comparisons).
fn drops_name(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "%" | "^")
}

pub(crate) fn eval(ev: &Ev<'_>, b: &BinaryExpr) -> Result<Value> {
    let op = b.op.to_string();
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&b.lhs)?;
    let rhs = ev.eval(&b.rhs)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let mut out = Vec::with_capacity(ev.n);
            for (a, b) in l.into_iter().zip(r) {
                let (v, keep) = apply(&op, a, b)?;
                out.push(if is_comparison(&op) {
                    if keep { 1.0 } else { 0.0 }
                } else {
                    v
                });
            }
            Ok(Value::Scalar(out))
        }
        (Value::Vector(v), Value::Scalar(s)) => vector_scalar(ev, &op, v, &s, false, return_bool),
        (Value::Scalar(s), Value::Vector(v)) => vector_scalar(ev, &op, v, &s, true, return_bool),
        (Value::Vector(l), Value::Vector(r)) => match op.as_str() {
            "and" | "or" | "unless" => set_op(ev, &op, b, l, r),
            _ => vector_vector(ev, &op, b, l, r, return_bool),
        },
        (l, r) => Err(exec(format!(
            "binary operator {op} is not defined between {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn vector_scalar(
    ev: &Ev<'_>,
    op: &str,
    v: Vec<Series>,
    s: &[f64],
    scalar_left: bool,
    return_bool: bool,
) -> Result<Value> {
    let cmp = is_comparison(op);
    let drop_name = drops_name(op) || return_bool;
    let mut out = Vec::with_capacity(v.len());
    for series in v {
        let mut vals = Vec::with_capacity(ev.n);
        for (i, x) in series.vals.into_iter().enumerate() {
            let Some(x) = x else {
                vals.push(None);
                continue;
            };
            let (l, r) = if scalar_left { (s[i], x) } else { (x, s[i]) };
            let (mut value, keep) = apply(op, l, r)?;
            if cmp && scalar_left {
                // A comparison keeps the vector's value even when the scalar is on the left.
                value = x;
            }
            vals.push(if return_bool {
                Some(if keep { 1.0 } else { 0.0 })
            } else if keep {
                Some(value)
            } else {
                None
            });
        }
        if vals.iter().any(Option::is_some) {
            out.push(Series {
                labels: if drop_name {
                    series.labels.without_name()
                } else {
                    series.labels
                },
                vals,
            });
        }
    }
    ev.distinct(out)
}

/// The label set two series are matched on.
fn signature(matching: Option<&LabelModifier>, l: &Labels) -> Labels {
    match matching {
        Some(LabelModifier::Include(on)) => l.keep_names(&on.labels),
        Some(LabelModifier::Exclude(ign)) => l.drop_names(&ign.labels),
        None => l.without_name(),
    }
}

/// Numbers each distinct signature; returns the number per series and how many.
fn signatures(
    matching: Option<&LabelModifier>,
    sides: [&[Series]; 2],
) -> (Vec<Vec<usize>>, Vec<Labels>) {
    let mut ids: HashMap<Labels, usize> = HashMap::new();
    let mut names = Vec::new();
    let out = sides
        .iter()
        .map(|side| {
            side.iter()
                .map(|s| {
                    let sig = signature(matching, &s.labels);
                    *ids.entry(sig.clone()).or_insert_with(|| {
                        names.push(sig);
                        names.len() - 1
                    })
                })
                .collect()
        })
        .collect();
    (out, names)
}

fn set_op(ev: &Ev<'_>, op: &str, b: &BinaryExpr, l: Vec<Series>, r: Vec<Series>) -> Result<Value> {
    let matching = b.modifier.as_ref().and_then(|m| m.matching.as_ref());
    let (sigs, names) = signatures(matching, [&l, &r]);
    let mut present = vec![false; names.len()];
    let mut out: Vec<Series> = Vec::with_capacity(l.len() + r.len());
    let (lsig, rsig) = (&sigs[0], &sigs[1]);
    let mut lvals: Vec<Vec<Option<f64>>> = l.iter().map(|s| s.vals.clone()).collect();
    let mut rvals: Vec<Vec<Option<f64>>> = vec![vec![None; ev.n]; r.len()];
    for i in 0..ev.n {
        present.iter_mut().for_each(|p| *p = false);
        match op {
            "and" | "unless" => {
                for (j, s) in r.iter().enumerate() {
                    if s.vals[i].is_some() {
                        present[rsig[j]] = true;
                    }
                }
                let want = op == "and";
                for (j, v) in lvals.iter_mut().enumerate() {
                    if v[i].is_some() && present[lsig[j]] != want {
                        v[i] = None;
                    }
                }
            }
            _ => {
                for (j, s) in l.iter().enumerate() {
                    if s.vals[i].is_some() {
                        present[lsig[j]] = true;
                    }
                }
                for (j, s) in r.iter().enumerate() {
                    if s.vals[i].is_some() && !present[rsig[j]] {
                        rvals[j][i] = s.vals[i];
                    }
                }
            }
        }
    }
    for (s, vals) in l.into_iter().zip(lvals) {
        if vals.iter().any(Option::is_some) {
            out.push(Series {
                labels: s.labels,
                vals,
            });
        }
    }
    if op == "or" {
        for (s, vals) in r.into_iter().zip(rvals) {
            if vals.iter().any(Option::is_some) {
                out.push(Series {
                    labels: s.labels,
                    vals,
                });
            }
        }
    }
    ev.distinct(out)
}

fn vector_vector(
    ev: &Ev<'_>,
    op: &str,
    b: &BinaryExpr,
    l: Vec<Series>,
    r: Vec<Series>,
    return_bool: bool,
) -> Result<Value> {
    let modifier = b.modifier.as_ref();
    let matching = modifier.and_then(|m| m.matching.as_ref());
    let card = modifier
        .map(|m| m.card.clone())
        .unwrap_or(VectorMatchCardinality::OneToOne);
    let (include, one_to_many) = match &card {
        VectorMatchCardinality::ManyToOne(ls) => (ls.labels.clone(), false),
        VectorMatchCardinality::OneToMany(ls) => (ls.labels.clone(), true),
        VectorMatchCardinality::OneToOne => (Vec::new(), false),
        VectorMatchCardinality::ManyToMany => {
            return Err(exec("many-to-many only allowed for set operators"));
        }
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    // The "many" side's series carry their labels into the result.
    let (many, one) = if one_to_many { (&r, &l) } else { (&l, &r) };
    let (sigs, names) = signatures(matching, [many, one]);
    let (msig, osig) = (&sigs[0], &sigs[1]);

    let result_labels = |m: &Labels, o: &Labels| -> Labels {
        let mut x = if drops_name(op) {
            m.without_name()
        } else {
            m.clone()
        };
        if one_to_one {
            x = match matching {
                Some(LabelModifier::Include(on)) => x.keep_names(&on.labels),
                Some(LabelModifier::Exclude(ign)) => {
                    let names: Vec<&str> = ign.labels.iter().map(String::as_str).collect();
                    x.remove_names(&names)
                }
                None => x,
            };
        }
        for name in &include {
            x.set(name, o.get(name).unwrap_or(""));
        }
        if return_bool {
            x = x.without_name();
        }
        x
    };

    let mut one_at: Vec<Option<usize>> = vec![None; names.len()];
    let mut matched: Vec<bool> = vec![false; names.len()];
    let mut out_index: HashMap<(usize, usize), usize> = HashMap::new();
    let mut out: Vec<Series> = Vec::new();
    for i in 0..ev.n {
        ev.check_deadline("binary operator")?;
        // Like 2.42: when either side is empty at a step, nothing matches and nothing
        // is checked for duplicates.
        if !l.iter().any(|s| s.vals[i].is_some()) || !r.iter().any(|s| s.vals[i].is_some()) {
            continue;
        }
        one_at.iter_mut().for_each(|x| *x = None);
        matched.iter_mut().for_each(|x| *x = false);
        for (j, s) in one.iter().enumerate() {
            if s.vals[i].is_none() {
                continue;
            }
            if let Some(prev) = one_at[osig[j]] {
                let side = if one_to_many { "left" } else { "right" };
                return Err(exec(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    names[osig[j]], one[prev].labels, s.labels
                )));
            }
            one_at[osig[j]] = Some(j);
        }
        for (j, s) in many.iter().enumerate() {
            let Some(mv) = s.vals[i] else { continue };
            let Some(o) = one_at[msig[j]] else { continue };
            let Some(ov) = one[o].vals[i] else { continue };
            let (lv, rv) = if one_to_many { (ov, mv) } else { (mv, ov) };
            let (value, keep) = apply(op, lv, rv)?;
            let value = if return_bool {
                if keep { 1.0 } else { 0.0 }
            } else if keep {
                value
            } else {
                continue;
            };
            // Checked after a filtering comparison, as 2.42 does: a second match that
            // the comparison drops is no error.
            if one_to_one {
                if matched[msig[j]] {
                    return Err(exec(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                matched[msig[j]] = true;
            }
            let k = *out_index.entry((j, o)).or_insert_with(|| {
                out.push(Series {
                    labels: result_labels(&s.labels, &one[o].labels),
                    vals: vec![None; ev.n],
                });
                out.len() - 1
            });
            out[k].vals[i] = Some(value);
        }
    }
    ev.distinct(out)
}
