//! PromQL functions of Prometheus 2.42 on float samples.

use std::sync::Once;

use promql_parser::label::MatchOp;
use promql_parser::parser::function::Function;
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Call, Expr};

use crate::error::{PromqlError, Result, exec};
use crate::eval::{Ev, unwrap_parens};
use crate::labels::{Labels, METRIC_NAME, is_valid_name};
use crate::range::{self, over_windows};
use crate::value::{RawSeries, Series, Value};

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
            check_arg_types(c)?;
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
        Expr::VectorSelector(vs) => check_selector(vs),
        Expr::MatrixSelector(ms) => check_selector(&ms.vs),
        Expr::Unary(u) => check_supported(&u.expr),
        Expr::Paren(p) => check_supported(&p.expr),
        Expr::Subquery(s) => check_supported(&s.expr),
        _ => Ok(()),
    }
}

fn check_selector(vs: &promql_parser::parser::VectorSelector) -> Result<()> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(PromqlError::Unsupported(
            "\"or\" inside a selector is not supported (Prometheus 2.42)".into(),
        ));
    }
    for m in &vs.matchers.matchers {
        if matches!(m.op, MatchOp::Re(_) | MatchOp::NotRe(_)) && m.value.contains("(?<") {
            return Err(PromqlError::Unsupported(format!(
                "error parsing regexp {:?}: Prometheus 2.42's RE2 has no (?<name>...) groups; use (?P<name>...)",
                m.value
            )));
        }
    }
    Ok(())
}

/// The type an expression has before it runs, as the parser types it.
fn static_type(e: &Expr) -> ValueType {
    match e {
        Expr::NumberLiteral(_) => ValueType::Scalar,
        Expr::StringLiteral(_) => ValueType::String,
        Expr::VectorSelector(_) | Expr::Aggregate(_) => ValueType::Vector,
        Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
        Expr::Call(c) => c.func.return_type,
        Expr::Paren(p) => static_type(&p.expr),
        Expr::Unary(u) => static_type(&u.expr),
        Expr::Binary(b) => {
            if static_type(&b.lhs) == ValueType::Scalar && static_type(&b.rhs) == ValueType::Scalar
            {
                ValueType::Scalar
            } else {
                ValueType::Vector
            }
        }
        Expr::Extension(_) => ValueType::Vector,
    }
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
    }
}

/// Argument types, which promql-parser skips for some calls (`ln(0)`).
fn check_arg_types(c: &Call) -> Result<()> {
    for (i, a) in c.args.args.iter().enumerate() {
        let Some(&want) = c.func.arg_types.get(i).or(c.func.arg_types.last()) else {
            continue;
        };
        let got = static_type(a);
        if got != want {
            return Err(PromqlError::Parse(format!(
                "expected type {} in call to function {:?}, got {}",
                type_name(want),
                c.func.name,
                type_name(got)
            )));
        }
    }
    Ok(())
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

/// Go's `math.Max`: +Inf wins over NaN, NaN over everything else.
fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: -Inf wins over NaN, NaN over everything else.
fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Go's RE2 reads a `{` that does not start a repetition (`{2}`, `{2,}`, `{2,5}`) as
/// a literal; Rust's regex refuses it. Escapes such braces.
pub(crate) fn go_braces(re: &str) -> String {
    let b = re.as_bytes();
    let mut out = String::with_capacity(re.len() + 4);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && i + 1 < b.len() {
            out.push_str(&re[i..i + 2]);
            i += 2;
            continue;
        }
        if c == b'{' {
            let rest = &re[i + 1..];
            let close = rest.find('}');
            let repeat = close.is_some_and(|e| {
                let inner = &rest[..e];
                let (lo, hi) = inner.split_once(',').unwrap_or((inner, ""));
                !lo.is_empty()
                    && lo.bytes().all(|d| d.is_ascii_digit())
                    && hi.bytes().all(|d| d.is_ascii_digit())
            });
            if !repeat {
                out.push_str("\\{");
                i += 1;
                continue;
            }
        }
        let ch = re[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// (year, month, day) of a day number since 1970-01-01 in the proleptic Gregorian
/// calendar, for any i64 day (Go's time package has no year limit; chrono has one).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A date part of Unix time `secs` in UTC (truncated toward zero, as Go's int64()).
fn date_part(name: &str, secs: f64) -> Option<f64> {
    if secs.is_nan() {
        return None;
    }
    let t = secs as i64;
    let days = t.div_euclid(86_400);
    let sod = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    Some(match name {
        "year" => y as f64,
        "month" => f64::from(m),
        "day_of_month" => f64::from(d),
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => f64::from((1..m).map(|mm| days_in(y, mm)).sum::<u32>() + d),
        "hour" => (sod / 3600) as f64,
        "minute" => (sod % 3600 / 60) as f64,
        "days_in_month" => f64::from(days_in(y, m)),
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
                // Only max < min yields nothing; a NaN bound yields NaN, as in Go.
                (hi[i].partial_cmp(&lo[i]) != Some(std::cmp::Ordering::Less))
                    .then(|| go_max(lo[i], go_min(hi[i], x)))
            })
        }
        "clamp_min" | "clamp_max" => {
            let v = ev.vector(arg(c, 0)?, name)?;
            let b = ev.scalar(arg(c, 1)?, name)?;
            let min = name == "clamp_min";
            map_values(ev, v, |x, i| {
                Some(if min {
                    go_max(b[i], x)
                } else {
                    go_min(b[i], x)
                })
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
    if name == "holt_winters" && w.series.iter().any(|s| !s.ts.is_empty()) {
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
            // Each series' resets are found once, not once per window.
            let resets = |s: &RawSeries| {
                if counter {
                    range::resets_of(&s.vals)
                } else {
                    Vec::new()
                }
            };
            range::over_windows_with(ev, &w, false, resets, |resets, s, r, start, end, _| {
                range::extrapolated_at(
                    &s.ts, &s.vals, r, resets, start, end, counter, per_second, range_ms,
                )
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
        "avg_over_time" => {
            over_windows(ev, &w, false, |_, vs, _, _, _| Some(range::kahan_mean(vs)))?
        }
        "sum_over_time" => {
            over_windows(ev, &w, false, |_, vs, _, _, _| Some(range::kahan_sum(vs)))?
        }
        "count_over_time" => over_windows(ev, &w, false, |_, vs, _, _, _| Some(vs.len() as f64))?,
        "min_over_time" | "max_over_time" => {
            let max = name == "max_over_time";
            range::over_windows_with(
                ev,
                &w,
                false,
                |_| range::Extremum::default(),
                |ext, s, r, _, _, _| Some(ext.at(&s.vals, r, max)),
            )?
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
    // 2.42 checks a range-vector function's whole result, across steps.
    ev.distinct_strict(out)
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

fn label_replace(ev: &Ev<'_>, c: &Call) -> Result<Value> {
    let v = ev.vector(arg(c, 0)?, "label_replace")?;
    let dst = string_arg(ev, c, 1)?;
    let repl = string_arg(ev, c, 2)?;
    let src = string_arg(ev, c, 3)?;
    let re = string_arg(ev, c, 4)?;
    let re = regex::Regex::new(&format!("^(?:{})$", go_braces(&re))).map_err(|e| {
        exec(format!(
            "invalid regular expression in label_replace(): {re}: {e}"
        ))
    })?;
    if !is_valid_name(&dst) {
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
    if !is_valid_name(&dst) {
        return Err(exec(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    if let Some(bad) = srcs.iter().find(|s| !is_valid_name(s)) {
        return Err(exec(format!(
            "invalid source label name in label_join(): {bad}"
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
