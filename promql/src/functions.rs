//! PromQL functions of Prometheus 2.42 on float samples.

use std::sync::Once;

use chrono::{Datelike, TimeZone, Timelike, Utc};
use promql_parser::label::MatchOp;
use promql_parser::parser::function::Function;
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Call, Expr};

use crate::error::{PromqlError, Result, exec};
use crate::eval::{Ev, unwrap_parens};
use crate::labels::{Labels, METRIC_NAME};
use crate::range::{self, over_windows};
use crate::value::{Series, Value};

/// Functions promql-parser knows under a later name or not at all.
pub(crate) fn register_legacy() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Registration only fails on a clash with a built-in name; holt_winters is not one.
        let _ = promql_parser::parser::register_extra_functions(vec![Function::new(
            "holt_winters",
            vec![ValueType::Matrix, ValueType::Scalar, ValueType::Scalar],
            0,
            ValueType::Vector,
            false,
        )]);
    });
}

/// Every function Prometheus 2.42 has.
const SUPPORTED: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "deg",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_sum",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Refuses what parses here but is not in Prometheus 2.42: later functions and
/// aggregations, `fill()` modifiers and `or` inside selectors.
pub(crate) fn check_supported(e: &Expr) -> Result<()> {
    match e {
        Expr::Call(c) => {
            if !SUPPORTED.contains(&c.func.name) {
                return Err(PromqlError::Unsupported(format!(
                    "unknown function with name \"{}\" (Prometheus 2.42 has no such function)",
                    c.func.name
                )));
            }
            c.args.args.iter().try_for_each(|a| check_supported(a))
        }
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if op == "limitk" || op == "limit_ratio" {
                return Err(PromqlError::Unsupported(format!(
                    "unknown aggregation {op} (Prometheus 2.42 has no such aggregation)"
                )));
            }
            if let Some(p) = &a.param {
                check_supported(p)?;
            }
            check_supported(&a.expr)
        }
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier
                && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
            {
                return Err(PromqlError::Unsupported(
                    "fill modifiers are not supported (Prometheus 2.42 has none)".into(),
                ));
            }
            check_supported(&b.lhs)?;
            check_supported(&b.rhs)
        }
        Expr::VectorSelector(vs) if !vs.matchers.or_matchers.is_empty() => {
            Err(PromqlError::Unsupported(
                "\"or\" inside a selector is not supported (Prometheus 2.42)".into(),
            ))
        }
        Expr::MatrixSelector(ms) if !ms.vs.matchers.or_matchers.is_empty() => {
            Err(PromqlError::Unsupported(
                "\"or\" inside a selector is not supported (Prometheus 2.42)".into(),
            ))
        }
        Expr::Unary(u) => check_supported(&u.expr),
        Expr::Paren(p) => check_supported(&p.expr),
        Expr::Subquery(s) => check_supported(&s.expr),
        _ => Ok(()),
    }
}

fn arg(c: &Call, i: usize) -> Result<&Expr> {
    c.args
        .args
        .get(i)
        .map(|b| b.as_ref())
        .ok_or_else(|| exec(format!("{}: missing argument {}", c.func.name, i + 1)))
}

/// Applies `f` to every value of the vector argument; the metric name is dropped.
fn map_values(ev: &Ev<'_>, v: Vec<Series>, f: impl Fn(f64, usize) -> Option<f64>) -> Result<Value> {
    let out = v
        .into_iter()
        .map(|s| Series {
            labels: s.labels.without_name(),
            vals: s
                .vals
                .into_iter()
                .enumerate()
                .map(|(i, x)| x.and_then(|x| f(x, i)))
                .collect(),
        })
        .filter(|s| s.vals.iter().any(Option::is_some))
        .collect();
    ev.distinct(out)
}

fn math(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "acos" => f64::acos,
        "acosh" => f64::acosh,
        "asin" => f64::asin,
        "asinh" => f64::asinh,
        "atan" => f64::atan,
        "atanh" => f64::atanh,
        "cos" => f64::cos,
        "cosh" => f64::cosh,
        "sin" => f64::sin,
        "sinh" => f64::sinh,
        "tan" => f64::tan,
        "tanh" => f64::tanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

fn date_part(name: &str, secs: f64) -> Option<f64> {
    let t = Utc.timestamp_opt(secs as i64, 0).single()?;
    Some(match name {
        "year" => t.year() as f64,
        "month" => t.month() as f64,
        "day_of_month" => t.day() as f64,
        "day_of_week" => t.weekday().num_days_from_sunday() as f64,
        "day_of_year" => t.ordinal() as f64,
        "hour" => t.hour() as f64,
        "minute" => t.minute() as f64,
        "days_in_month" => {
            let (y, m) = if t.month() == 12 {
                (t.year() + 1, 1)
            } else {
                (t.year(), t.month() + 1)
            };
            let first_next = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
            (first_next - chrono::Duration::days(1)).day() as f64
        }
        _ => return None,
    })
}

pub(crate) fn call(ev: &Ev<'_>, c: &Call) -> Result<Value> {
    let name = c.func.name;
    if let Some(f) = math(name) {
        let v = ev.vector(arg(c, 0)?, name)?;
        return map_values(ev, v, |x, _| Some(f(x)));
    }
    match name {
        "time" => Ok(Value::Scalar(
            (0..ev.n).map(|i| ev.t(i) as f64 / 1000.0).collect(),
        )),
        "pi" => Ok(Value::Scalar(vec![std::f64::consts::PI; ev.n])),
        "vector" => {
            let s = ev.scalar(arg(c, 0)?, name)?;
            Ok(Value::Vector(vec![Series {
                labels: Labels::default(),
                vals: s.into_iter().map(Some).collect(),
            }]))
        }
        "scalar" => {
            let v = ev.vector(arg(c, 0)?, name)?;
            Ok(Value::Scalar(
                (0..ev.n)
                    .map(|i| {
                        let mut it = v.iter().filter_map(|s| s.vals[i]);
                        match (it.next(), it.next()) {
                            (Some(x), None) => x,
                            _ => f64::NAN,
                        }
                    })
                    .collect(),
            ))
        }
        "round" => {
            let v = ev.vector(arg(c, 0)?, name)?;
            let to = match c.args.args.get(1) {
                Some(a) => ev.scalar(a, name)?,
                None => vec![1.0; ev.n],
            };
            map_values(ev, v, |x, i| {
                let inv = 1.0 / to[i];
                Some((x * inv + 0.5).floor() / inv)
            })
        }
        "clamp" => {
            let v = ev.vector(arg(c, 0)?, name)?;
            let lo = ev.scalar(arg(c, 1)?, name)?;
            let hi = ev.scalar(arg(c, 2)?, name)?;
            map_values(ev, v, |x, i| {
                (hi[i] >= lo[i]).then(|| lo[i].max(hi[i].min(x)))
            })
        }
        "clamp_min" | "clamp_max" => {
            let v = ev.vector(arg(c, 0)?, name)?;
            let b = ev.scalar(arg(c, 1)?, name)?;
            let min = name == "clamp_min";
            map_values(ev, v, |x, i| {
                Some(if min { b[i].max(x) } else { b[i].min(x) })
            })
        }
        "timestamp" => {
            let a = unwrap_parens(arg(c, 0)?);
            if let Expr::VectorSelector(vs) = a {
                let v = ev.select(vs, true);
                return map_values(ev, v, |x, _| Some(x));
            }
            let v = ev.vector(a, name)?;
            map_values(ev, v, |_, i| Some(ev.t(i) as f64 / 1000.0))
        }
        "sort" | "sort_desc" => {
            // Order matters to instant queries only; the caller orders by value.
            ev.eval(arg(c, 0)?)
        }
        "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "hour" | "minute"
        | "days_in_month" => {
            let v = match c.args.args.first() {
                Some(a) => ev.vector(a, name)?,
                None => vec![Series {
                    labels: Labels::default(),
                    vals: (0..ev.n).map(|i| Some(ev.t(i) as f64 / 1000.0)).collect(),
                }],
            };
            map_values(ev, v, |x, _| date_part(name, x))
        }
        "label_replace" => label_replace(ev, c),
        "label_join" => label_join(ev, c),
        "absent" => {
            let v = ev.vector(arg(c, 0)?, name)?;
            let labels = absent_labels(arg(c, 0)?);
            absent(ev, labels, |i| v.iter().any(|s| s.vals[i].is_some()))
        }
        "absent_over_time" => {
            let w = range::input(ev, arg(c, 0)?)?;
            let present = over_windows(ev, &w, false, |_, _, _, _, _| Some(1.0))?;
            let labels = absent_labels(arg(c, 0)?);
            absent(ev, labels, |i| present.iter().any(|s| s.vals[i].is_some()))
        }
        "histogram_quantile" => crate::aggregate::histogram_quantile(ev, c),
        // Native-histogram functions: float samples are never native histograms.
        "histogram_count" | "histogram_sum" | "histogram_fraction" => {
            for a in &c.args.args {
                ev.eval(a)?;
            }
            Ok(Value::Vector(Vec::new()))
        }
        _ => range_function(ev, c),
    }
}

fn range_function(ev: &Ev<'_>, c: &Call) -> Result<Value> {
    let name = c.func.name;
    // The range argument's position: quantile_over_time takes φ first.
    let (w, scalars) = match name {
        "quantile_over_time" => (
            range::input(ev, arg(c, 1)?)?,
            vec![ev.scalar(arg(c, 0)?, name)?],
        ),
        "predict_linear" => (
            range::input(ev, arg(c, 0)?)?,
            vec![ev.scalar(arg(c, 1)?, name)?],
        ),
        "holt_winters" => (
            range::input(ev, arg(c, 0)?)?,
            vec![ev.scalar(arg(c, 1)?, name)?, ev.scalar(arg(c, 2)?, name)?],
        ),
        _ => (range::input(ev, arg(c, 0)?)?, Vec::new()),
    };
    if name == "holt_winters" {
        for (&sf, &tf) in scalars[0].iter().zip(&scalars[1]) {
            range::check_factor("sf", "smoothing", sf)?;
            range::check_factor("tf", "trend", tf)?;
        }
    }
    let range_ms = w.range;
    let out = match name {
        "rate" | "increase" | "delta" => {
            let counter = name != "delta";
            let per_second = name == "rate";
            over_windows(ev, &w, false, |ts, vs, start, end, _| {
                range::extrapolated(ts, vs, start, end, counter, per_second, range_ms)
            })?
        }
        "irate" | "idelta" => over_windows(ev, &w, false, |ts, vs, _, _, _| {
            range::instant_change(ts, vs, name == "irate")
        })?,
        "deriv" => over_windows(ev, &w, false, |ts, vs, _, _, _| {
            (ts.len() >= 2).then(|| range::linear_regression(ts, vs, ts[0]).0)
        })?,
        "predict_linear" => over_windows(ev, &w, false, |ts, vs, _, _, i| {
            (ts.len() >= 2).then(|| {
                let (slope, icpt) = range::linear_regression(ts, vs, ev.t(i));
                slope * scalars[0][i] + icpt
            })
        })?,
        "holt_winters" => over_windows(ev, &w, false, |_, vs, _, _, i| {
            range::holt_winters(vs, scalars[0][i], scalars[1][i])
        })?,
        "changes" => over_windows(ev, &w, false, |_, vs, _, _, _| {
            let n = vs
                .windows(2)
                .filter(|p| p[1] != p[0] && !(p[1].is_nan() && p[0].is_nan()))
                .count();
            Some(n as f64)
        })?,
        "resets" => over_windows(ev, &w, false, |_, vs, _, _, _| {
            Some(vs.windows(2).filter(|p| p[1] < p[0]).count() as f64)
        })?,
        "avg_over_time" => over_windows(ev, &w, false, |_, vs, _, _, _| {
            Some(range::mean(vs.iter().copied()))
        })?,
        "sum_over_time" => over_windows(ev, &w, false, |_, vs, _, _, _| Some(vs.iter().sum()))?,
        "count_over_time" => over_windows(ev, &w, false, |_, vs, _, _, _| Some(vs.len() as f64))?,
        "min_over_time" | "max_over_time" => {
            let max = name == "max_over_time";
            over_windows(ev, &w, false, |_, vs, _, _, _| {
                let mut acc = vs[0];
                for &v in &vs[1..] {
                    if (if max { acc < v } else { acc > v }) || acc.is_nan() {
                        acc = v;
                    }
                }
                Some(acc)
            })?
        }
        "stddev_over_time" | "stdvar_over_time" => {
            let sd = name == "stddev_over_time";
            over_windows(ev, &w, false, |_, vs, _, _, _| {
                let var = range::variance(vs.iter().copied());
                Some(if sd { var.sqrt() } else { var })
            })?
        }
        "quantile_over_time" => over_windows(ev, &w, false, |_, vs, _, _, i| {
            Some(range::quantile(scalars[0][i], vs.to_vec()))
        })?,
        "last_over_time" => over_windows(ev, &w, true, |_, vs, _, _, _| vs.last().copied())?,
        "present_over_time" => over_windows(ev, &w, false, |_, _, _, _, _| Some(1.0))?,
        other => {
            return Err(PromqlError::Unsupported(format!(
                "function {other} is not implemented"
            )));
        }
    };
    ev.distinct(out)
}

/// The labels `absent()` gives its single output: the selector's equality matchers,
/// except names matched more than once or by another operator.
fn absent_labels(e: &Expr) -> Labels {
    let vs = match unwrap_parens(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::default(),
    };
    let mut labels = Labels::default();
    let mut drop = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, MatchOp::Equal) && labels.get(&m.name).is_none() {
            labels.set(&m.name, &m.value);
        } else {
            drop.push(m.name.clone());
        }
    }
    for d in drop {
        labels.set(&d, "");
    }
    labels
}

fn absent(ev: &Ev<'_>, labels: Labels, present: impl Fn(usize) -> bool) -> Result<Value> {
    let vals: Vec<Option<f64>> = (0..ev.n).map(|i| (!present(i)).then_some(1.0)).collect();
    if vals.iter().all(Option::is_none) {
        return Ok(Value::Vector(Vec::new()));
    }
    Ok(Value::Vector(vec![Series { labels, vals }]))
}

fn string_arg(ev: &Ev<'_>, c: &Call, i: usize) -> Result<String> {
    match ev.eval(arg(c, i)?)? {
        Value::String(s) => Ok(s),
        other => Err(exec(format!(
            "{}: expected string for argument {}, got {}",
            c.func.name,
            i + 1,
            other.type_name()
        ))),
    }
}

fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn label_replace(ev: &Ev<'_>, c: &Call) -> Result<Value> {
    let v = ev.vector(arg(c, 0)?, "label_replace")?;
    let dst = string_arg(ev, c, 1)?;
    let repl = string_arg(ev, c, 2)?;
    let src = string_arg(ev, c, 3)?;
    let re = string_arg(ev, c, 4)?;
    let re = regex::Regex::new(&format!("^(?:{re})$")).map_err(|e| {
        exec(format!(
            "invalid regular expression in label_replace(): {re}: {e}"
        ))
    })?;
    if !valid_label_name(&dst) {
        return Err(exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let out = v
        .into_iter()
        .map(|mut s| {
            let value = s.labels.get(&src).unwrap_or("").to_string();
            if let Some(caps) = re.captures(&value) {
                let mut res = String::new();
                caps.expand(&repl, &mut res);
                s.labels.set(&dst, &res);
            }
            s
        })
        .collect();
    ev.distinct(out)
}

fn label_join(ev: &Ev<'_>, c: &Call) -> Result<Value> {
    let v = ev.vector(arg(c, 0)?, "label_join")?;
    let dst = string_arg(ev, c, 1)?;
    let sep = string_arg(ev, c, 2)?;
    let srcs = (3..c.args.args.len())
        .map(|i| string_arg(ev, c, i))
        .collect::<Result<Vec<_>>>()?;
    if !valid_label_name(&dst) {
        return Err(exec(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let out = v
        .into_iter()
        .map(|mut s| {
            let joined = srcs
                .iter()
                .map(|n| s.labels.get(n).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(&sep);
            s.labels.set(&dst, &joined);
            s
        })
        .collect();
    ev.distinct(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_utc() {
        // 2024-02-29T13:45:00Z, a Thursday.
        let t = 1_709_214_300.0;
        assert_eq!(date_part("year", t), Some(2024.0));
        assert_eq!(date_part("month", t), Some(2.0));
        assert_eq!(date_part("day_of_month", t), Some(29.0));
        assert_eq!(date_part("day_of_week", t), Some(4.0));
        assert_eq!(date_part("day_of_year", t), Some(60.0));
        assert_eq!(date_part("days_in_month", t), Some(29.0));
        assert_eq!(date_part("hour", t), Some(13.0));
        assert_eq!(date_part("minute", t), Some(45.0));
    }

    #[test]
    fn later_functions_are_refused() {
        assert!(crate::parse("sort_by_label(x, \"a\")").is_err());
        assert!(crate::parse("limitk(1, x)").is_err());
        assert!(crate::parse("holt_winters(x[5m], 0.5, 0.5)").is_ok());
    }
}
