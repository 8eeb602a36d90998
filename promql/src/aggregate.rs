//! Aggregation operators and `histogram_quantile`.

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, Call, Expr, LabelModifier};

use crate::error::{Result, exec};
use crate::eval::Ev;
use crate::labels::{Labels, is_valid_name};
use crate::range::{Mean, group_variance, mean, quantile};
use crate::value::{Series, Value};

/// Input series grouped by their output labels.
struct Groups {
    labels: Vec<Labels>,
    members: Vec<Vec<usize>>,
}

fn group(input: &[Series], key: impl Fn(&Labels) -> Labels) -> Groups {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut g = Groups {
        labels: Vec::new(),
        members: Vec::new(),
    };
    for (i, s) in input.iter().enumerate() {
        let k = key(&s.labels);
        let gi = *index.entry(k.clone()).or_insert_with(|| {
            g.labels.push(k);
            g.members.push(Vec::new());
            g.labels.len() - 1
        });
        g.members[gi].push(i);
    }
    g
}

fn param_scalar(ev: &Ev<'_>, a: &AggregateExpr, op: &str) -> Result<Vec<f64>> {
    let p = a
        .param
        .as_deref()
        .ok_or_else(|| exec(format!("{op}: parameter missing")))?;
    ev.scalar(p, op)
}

pub(crate) fn eval(ev: &Ev<'_>, a: &AggregateExpr) -> Result<Value> {
    let op = a.op.to_string();
    let input = ev.vector(&a.expr, &op)?;
    let key = |l: &Labels| match &a.modifier {
        None => Labels::default(),
        Some(LabelModifier::Include(ls)) => l.keep_names(&ls.labels),
        Some(LabelModifier::Exclude(ls)) => l.drop_names(&ls.labels),
    };
    let groups = group(&input, key);
    let n = ev.n;
    let mut out: Vec<Series> = Vec::new();
    match op.as_str() {
        "topk" | "bottomk" => out = top_k(ev, a, &op, &input, &groups)?,
        "count_values" => out = count_values(ev, a, &input)?,
        _ => {
            let params = match op.as_str() {
                "quantile" => Some(param_scalar(ev, a, &op)?),
                _ => None,
            };
            for (gl, members) in groups.labels.into_iter().zip(&groups.members) {
                if let Some(vals) = fold_by_series(&op, members, &input, n) {
                    out.push(Series { labels: gl, vals });
                    continue;
                }
                let mut vals = Vec::with_capacity(n);
                let mut buf: Vec<f64> = Vec::with_capacity(members.len());
                for i in 0..n {
                    buf.clear();
                    buf.extend(members.iter().filter_map(|&m| input[m].vals[i]));
                    if buf.is_empty() {
                        vals.push(None);
                        continue;
                    }
                    let v = match op.as_str() {
                        "sum" => buf.iter().sum(),
                        "avg" => mean(buf.iter().copied()),
                        "count" => buf.len() as f64,
                        "group" => 1.0,
                        "min" | "max" => {
                            let max = op == "max";
                            let mut acc = buf[0];
                            for &v in &buf[1..] {
                                if (if max { acc < v } else { acc > v }) || acc.is_nan() {
                                    acc = v;
                                }
                            }
                            acc
                        }
                        "stddev" => group_variance(&buf).sqrt(),
                        "stdvar" => group_variance(&buf),
                        "quantile" => {
                            let q = params.as_ref().map(|p| p[i]).unwrap_or(f64::NAN);
                            quantile(q, buf.clone())
                        }
                        other => return Err(exec(format!("unknown aggregation {other}"))),
                    };
                    vals.push(Some(v));
                }
                out.push(Series { labels: gl, vals });
            }
        }
    }
    ev.admit(&out)?;
    Ok(Value::Vector(out))
}

/// `topk` and `bottomk`: per group and step, the `k` largest (smallest) values keep
/// their series' labels.
fn top_k(
    ev: &Ev<'_>,
    a: &AggregateExpr,
    op: &str,
    input: &[Series],
    groups: &Groups,
) -> Result<Vec<Series>> {
    let n = ev.n;
    let mut out: Vec<Series> = Vec::new();
    let k = param_scalar(ev, a, op)?;
    let top = op == "topk";
    let mut vals: Vec<Vec<Option<f64>>> = vec![vec![None; n]; input.len()];
    for members in &groups.members {
        for (i, &kf) in k.iter().enumerate() {
            if !(kf > -9.223_372_036_854_776e18 && kf < 9.223_372_036_854_776e18) {
                return Err(exec(format!(
                    "Scalar value {} overflows int64",
                    format_go(kf)
                )));
            }
            // Go's int64 conversion: toward zero; below 1 selects nothing.
            let k = if kf < 1.0 { 0 } else { kf as usize };
            if k == 0 {
                continue;
            }
            let mut chosen: Vec<(usize, f64)> = Vec::with_capacity(k.min(members.len()));
            for &m in members {
                let Some(v) = input[m].vals[i] else { continue };
                if chosen.len() < k {
                    chosen.push((m, v));
                    continue;
                }
                // The worst kept value (NaN is worst) gives way to a better one.
                let worse = |a: f64, b: f64| {
                    if top {
                        a < b || (a.is_nan() && !b.is_nan())
                    } else {
                        a > b || (a.is_nan() && !b.is_nan())
                    }
                };
                let (wi, _) =
                    chosen
                        .iter()
                        .enumerate()
                        .fold((0, chosen[0].1), |(bi, bv), (ci, &(_, cv))| {
                            if worse(cv, bv) || (cv.is_nan() && !bv.is_nan()) {
                                (ci, cv)
                            } else {
                                (bi, bv)
                            }
                        });
                if worse(chosen[wi].1, v) {
                    chosen[wi] = (m, v);
                }
            }
            for (m, v) in chosen {
                vals[m][i] = Some(v);
            }
        }
    }
    for (s, v) in input.iter().zip(vals) {
        if v.iter().any(Option::is_some) {
            out.push(Series {
                labels: s.labels.clone(),
                vals: v,
            });
        }
    }
    Ok(out)
}

/// `count_values`: per step, how many series hold each value, labelled by it.
fn count_values(ev: &Ev<'_>, a: &AggregateExpr, input: &[Series]) -> Result<Vec<Series>> {
    let n = ev.n;
    let mut out: Vec<Series> = Vec::new();
    let p = a
        .param
        .as_deref()
        .ok_or_else(|| exec("count_values: parameter missing"))?;
    let label = match ev.eval(p)? {
        Value::String(s) => s,
        other => {
            return Err(exec(format!(
                "count_values: expected string parameter, got {}",
                other.type_name()
            )));
        }
    };
    if !is_valid_name(&label) {
        return Err(exec(format!("invalid label name {label:?}")));
    }
    // The value label is set before grouping, so `without` naming it merges
    // the groups and drops it, as in 2.42.
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in input {
        for i in 0..n {
            let Some(v) = s.vals[i] else { continue };
            let mut l = s.labels.clone();
            l.set(&label, &format_go(v));
            let l = match &a.modifier {
                None => l.keep_names(std::slice::from_ref(&label)),
                Some(LabelModifier::Include(ls)) => {
                    let mut names = ls.labels.clone();
                    names.push(label.clone());
                    l.keep_names(&names)
                }
                Some(LabelModifier::Exclude(ls)) => l.drop_names(&ls.labels),
            };
            let oi = *index.entry(l.clone()).or_insert_with(|| {
                out.push(Series {
                    labels: l,
                    vals: vec![None; n],
                });
                out.len() - 1
            });
            let slot = &mut out[oi].vals[i];
            *slot = Some(slot.unwrap_or(0.0) + 1.0);
        }
    }
    Ok(out)
}

/// `sum`, `count`, `group`, `min`, `max` and `avg` of a group, folded one member series
/// at a time into an accumulator per step (a step's values sit in different series'
/// vectors: gathering them step by step strides across all of them). Each step still
/// takes its values in member order, so the results are the same bit for bit as
/// folding a step's values together. `None` for the other operators.
fn fold_by_series(
    op: &str,
    members: &[usize],
    input: &[Series],
    n: usize,
) -> Option<Vec<Option<f64>>> {
    let each = |f: &mut dyn FnMut(usize, f64)| {
        for &m in members {
            for (i, v) in input[m].vals.iter().enumerate() {
                if let Some(v) = *v {
                    f(i, v);
                }
            }
        }
    };
    let mut acc: Vec<Option<f64>> = vec![None; n];
    match op {
        "sum" => each(&mut |i, v| acc[i] = Some(acc[i].map_or(v, |a| a + v))),
        "count" => each(&mut |i, _| acc[i] = Some(acc[i].unwrap_or(0.0) + 1.0)),
        "group" => each(&mut |i, _| acc[i] = Some(1.0)),
        "min" | "max" => {
            let max = op == "max";
            each(&mut |i, v| {
                acc[i] = Some(match acc[i] {
                    Some(a) if !((if max { a < v } else { a > v }) || a.is_nan()) => a,
                    _ => v,
                })
            })
        }
        "avg" => {
            let mut means: Vec<Option<Mean>> = vec![None; n];
            each(&mut |i, v| means[i].get_or_insert_with(Mean::default).push(v));
            return Some(means.into_iter().map(|m| m.map(|m| m.mean)).collect());
        }
        _ => return None,
    }
    Some(acc)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest decimal, never an exponent
/// (how Prometheus writes sample values and `count_values` labels).
pub fn format_go(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// `histogram_quantile(φ, buckets)` over classic `le` buckets, as Prometheus 2.42.
pub(crate) fn histogram_quantile(ev: &Ev<'_>, c: &Call) -> Result<Value> {
    let arg = |i: usize| -> Result<&Expr> {
        c.args
            .args
            .get(i)
            .map(|b| b.as_ref())
            .ok_or_else(|| exec("histogram_quantile: missing argument"))
    };
    let q = ev.scalar(arg(0)?, "histogram_quantile")?;
    let input = ev.vector(arg(1)?, "histogram_quantile")?;
    // Bucket bound of each series; series without a parsable `le` are skipped.
    let mut les = Vec::with_capacity(input.len());
    let mut kept = Vec::with_capacity(input.len());
    for s in &input {
        if let Some(le) = s.labels.get("le").and_then(parse_go_float) {
            les.push(le);
            kept.push(s);
        }
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<usize>)> = Vec::new();
    for (i, s) in kept.iter().enumerate() {
        let k = s.labels.remove_names(&["le"]);
        match index.get(&k) {
            Some(&g) => groups[g].1.push(i),
            None => {
                index.insert(k.clone(), groups.len());
                groups.push((k, vec![i]));
            }
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (k, members) in groups {
        let mut vals = Vec::with_capacity(ev.n);
        for (i, &qi) in q.iter().enumerate() {
            let mut buckets: Vec<(f64, f64)> = members
                .iter()
                .filter_map(|&m| kept[m].vals[i].map(|v| (les[m], v)))
                .collect();
            vals.push(if buckets.is_empty() {
                None
            } else {
                Some(bucket_quantile(qi, &mut buckets))
            });
        }
        out.push(Series {
            labels: k.without_name(),
            vals,
        });
    }
    ev.distinct(out)
}

/// Parses like Go's `strconv.ParseFloat` for the forms bucket bounds take.
fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn bucket_quantile(q: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    // A NaN quantile ranks nowhere: NaN for every histogram, whatever its buckets.
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Buckets with the same bound are one bucket.
    buckets.dedup_by(|next, prev| {
        if next.0 == prev.0 {
            prev.1 += next.1;
            true
        } else {
            false
        }
    });
    // Counts must not fall as bounds rise.
    let mut max = f64::NEG_INFINITY;
    for b in buckets.iter_mut() {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let total = buckets[buckets.len() - 1].1;
    if total == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * total;
    let b = buckets[..buckets.len() - 1].partition_point(|x| x.1 < rank);
    if b == buckets.len() - 1 {
        return buckets[buckets.len() - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_quantile_interpolates_within_a_bucket() {
        let mut b = vec![(0.1, 10.0), (0.5, 30.0), (f64::INFINITY, 40.0)];
        // rank 20 is halfway into the (0.1, 0.5] bucket.
        assert!((bucket_quantile(0.5, &mut b) - 0.3).abs() < 1e-12);
        let mut b = vec![(0.1, 10.0), (0.5, 30.0), (f64::INFINITY, 40.0)];
        assert_eq!(bucket_quantile(0.99, &mut b), 0.5);
        let mut no_inf = vec![(0.1, 10.0)];
        assert!(bucket_quantile(0.5, &mut no_inf).is_nan());
        // Negative bounds too: a NaN quantile is NaN, not the first bucket's bound.
        let mut negative = vec![(-1.0, 5.0), (0.0, 8.0), (f64::INFINITY, 10.0)];
        assert!(bucket_quantile(f64::NAN, &mut negative).is_nan());
    }

    #[test]
    fn go_float_format() {
        assert_eq!(format_go(1.0), "1");
        assert_eq!(format_go(0.1), "0.1");
        assert_eq!(format_go(1e21), "1000000000000000000000");
        assert_eq!(format_go(f64::INFINITY), "+Inf");
    }
}
