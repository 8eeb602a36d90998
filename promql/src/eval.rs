//! The evaluator: walks the expression and computes each node at every step.

use std::collections::HashSet;
use std::time::Instant;

use promql_parser::parser::{Expr, VectorSelector};

use crate::error::{PromqlError, Result, exec};
use crate::labels::Labels;
use crate::plan::{selector_key, shifted};
use crate::value::{Data, RawSeries, Series, Value, is_stale};
use crate::{aggregate, binary, functions, range};

/// The top-level query: its steps (all times in milliseconds).
#[derive(Clone, Debug)]
pub struct Query {
    pub start: i64,
    pub end: i64,
    /// Step of a range query; any positive value for an instant query (start == end).
    pub step: i64,
    /// How far back an instant selector looks for a sample (Prometheus' 5 m default).
    pub lookback: i64,
    /// Step of a subquery that names none (Prometheus' global evaluation interval).
    pub subquery_step: i64,
    /// An instant query (`/api/v1/query`): a range vector or string may be its result.
    pub instant: bool,
}

impl Query {
    pub fn instant(t: i64, lookback: i64) -> Self {
        Query {
            start: t,
            end: t,
            step: 1,
            lookback,
            subquery_step: 60_000,
            instant: true,
        }
    }
}

/// What one query may use.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most samples one node may hold across its steps, and most raw samples a range
    /// window set may load at one step (Prometheus' `--query.max-samples`).
    pub max_samples: usize,
    /// Most series one node may produce.
    pub max_series: usize,
    pub deadline: Option<Instant>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_samples: 50_000_000,
            max_series: 1_000_000,
            deadline: None,
        }
    }
}

pub(crate) const TOO_MANY_SAMPLES: &str =
    "query processing would load too many samples into memory in query execution";

/// Evaluates `expr` at every step of `q` over the fetched `data`.
///
/// Evaluation recurses once per level of `expr` (a subquery adds a fixed number of
/// frames), so its stack use is bounded by the tree's depth. Trees from
/// [`crate::parse`] are at most [`crate::MAX_DEPTH`] + 1 levels deep, which stays
/// within half the stack at which the deepest-measured constructs overflow (see
/// `MAX_DEPTH`); a caller must not build deeper trees by hand.
pub fn evaluate(expr: &Expr, q: &Query, data: &Data, limits: &Limits) -> Result<Value> {
    if q.step <= 0 {
        return Err(PromqlError::Unsupported(
            "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    let ev = Ev::new(q, data, limits, q.start, q.end, q.step);
    let top = unwrap_parens(expr);
    match top {
        Expr::MatrixSelector(_) | Expr::Subquery(_) if q.instant => {
            let w = range::input(&ev, top)?;
            let t = q.start;
            let end = w.end_at(t);
            let start = end - w.range;
            let mut out = Vec::new();
            for s in w.series {
                let r = s.window(start, end);
                if r.is_empty() {
                    continue;
                }
                out.push(RawSeries {
                    labels: s.labels.clone(),
                    ts: s.ts[r.clone()].to_vec(),
                    vals: s.vals[r].to_vec(),
                });
            }
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
            Ok(Value::Matrix(out))
        }
        Expr::MatrixSelector(_) | Expr::Subquery(_) => Err(PromqlError::Unsupported(
            "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
        )),
        _ => match ev.eval(top)? {
            Value::String(_) if !q.instant => Err(PromqlError::Unsupported(
                "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
            )),
            v => Ok(v),
        },
    }
}

pub(crate) fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// One evaluation over a run of steps: the query's, or a subquery's.
pub(crate) struct Ev<'a> {
    pub q: &'a Query,
    pub data: &'a Data,
    pub limits: &'a Limits,
    pub start: i64,
    pub step: i64,
    pub n: usize,
}

impl<'a> Ev<'a> {
    pub fn new(
        q: &'a Query,
        data: &'a Data,
        limits: &'a Limits,
        start: i64,
        end: i64,
        step: i64,
    ) -> Self {
        let n = if end < start {
            0
        } else {
            ((end - start) / step) as usize + 1
        };
        Ev {
            q,
            data,
            limits,
            start,
            step,
            n,
        }
    }

    pub fn t(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    pub fn check_deadline(&self, what: &'static str) -> Result<()> {
        match self.limits.deadline {
            Some(d) if Instant::now() > d => Err(PromqlError::Timeout(what)),
            _ => Ok(()),
        }
    }

    /// Checks a node's result against the limits.
    pub fn admit(&self, series: &[Series]) -> Result<()> {
        if series.len() > self.limits.max_series {
            return Err(PromqlError::Limit(format!(
                "query would produce more than {} series (query.max_series, limits.max_series per tenant)",
                self.limits.max_series
            )));
        }
        let points: usize = series.iter().map(Series::points).sum();
        if points > self.limits.max_samples {
            return Err(PromqlError::Limit(TOO_MANY_SAMPLES.into()));
        }
        Ok(())
    }

    pub fn eval(&self, e: &Expr) -> Result<Value> {
        self.check_deadline("query evaluation")?;
        match e {
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::NumberLiteral(n) => Ok(Value::Scalar(vec![n.val; self.n])),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Value::Scalar(v) => Ok(Value::Scalar(v.into_iter().map(|x| -x).collect())),
                Value::Vector(v) => {
                    let out = v
                        .into_iter()
                        .map(|s| Series {
                            labels: s.labels.without_name(),
                            vals: s.vals.into_iter().map(|x| x.map(|x| -x)).collect(),
                        })
                        .collect();
                    self.distinct_strict(out)
                }
                other => Err(exec(format!(
                    "unary minus is not defined on a {}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(vs) => {
                let out = self.select(vs, false);
                self.admit(&out)?;
                Ok(Value::Vector(out))
            }
            Expr::MatrixSelector(_) | Expr::Subquery(_) => Err(PromqlError::Unsupported(
                "a range vector is only accepted as a function argument here".into(),
            )),
            Expr::Call(c) => functions::call(self, c),
            Expr::Aggregate(a) => aggregate::eval(self, a),
            Expr::Binary(b) => binary::eval(self, b),
            Expr::Extension(_) => Err(PromqlError::Unsupported(
                "extension expressions are not supported".into(),
            )),
        }
    }

    /// An instant vector selector: at each step the newest sample within the lookback
    /// window `[t - lookback, t]`, unless it is a staleness marker. With `timestamps`, the
    /// value is the sample's time in seconds instead (for `timestamp()`).
    pub fn select(&self, vs: &VectorSelector, timestamps: bool) -> Vec<Series> {
        let raw = self.data.get(&selector_key(vs));
        let mut out = Vec::with_capacity(raw.len());
        for s in raw {
            let mut vals = Vec::with_capacity(self.n);
            let mut any = false;
            // Steps ascend, and so does `at` unless `@` pins it: the sample cursor then
            // only moves forward, instead of a binary search per step.
            let (mut idx, mut last_at) = (0usize, i64::MIN);
            for i in 0..self.n {
                let at = shifted(&vs.at, &vs.offset, self.t(i), self.q);
                if at >= last_at {
                    idx += s.ts[idx..].iter().take_while(|&&t| t <= at).count();
                } else {
                    idx = s.ts.partition_point(|&t| t <= at);
                }
                last_at = at;
                let v = if idx == 0 {
                    None
                } else {
                    let (t, v) = (s.ts[idx - 1], s.vals[idx - 1]);
                    if t < at - self.q.lookback || is_stale(v) {
                        None
                    } else if timestamps {
                        Some(t as f64 / 1000.0)
                    } else {
                        Some(v)
                    }
                };
                any |= v.is_some();
                vals.push(v);
            }
            if any {
                out.push(Series {
                    labels: s.labels.clone(),
                    vals,
                });
            }
        }
        out
    }

    /// Merges series that share a label set when they never hold a value at the same
    /// step; two values for one label set at one step is Prometheus' error.
    pub fn distinct(&self, series: Vec<Series>) -> Result<Value> {
        let out = merge_same_labels(series)?;
        self.admit(&out)?;
        Ok(Value::Vector(out))
    }

    /// Two series with one label set are an error even at different steps (2.42 checks
    /// the whole matrix after unary minus and range-vector functions).
    pub fn distinct_strict(&self, series: Vec<Series>) -> Result<Value> {
        let mut seen: HashSet<&Labels> = HashSet::with_capacity(series.len());
        if series.iter().any(|s| !seen.insert(&s.labels)) {
            return Err(exec(SAME_LABELSET));
        }
        self.admit(&series)?;
        Ok(Value::Vector(series))
    }

    pub fn scalar(&self, e: &Expr, what: &str) -> Result<Vec<f64>> {
        match self.eval(e)? {
            Value::Scalar(v) => Ok(v),
            other => Err(exec(format!(
                "expected scalar for {what}, got {}",
                other.type_name()
            ))),
        }
    }

    pub fn vector(&self, e: &Expr, what: &str) -> Result<Vec<Series>> {
        match self.eval(e)? {
            Value::Vector(v) => Ok(v),
            other => Err(exec(format!(
                "expected instant vector for {what}, got {}",
                other.type_name()
            ))),
        }
    }
}

pub(crate) const SAME_LABELSET: &str = "vector cannot contain metrics with the same labelset";

/// Series whose labels became equal (a name dropped, a label replaced) are one series
/// if their steps do not overlap; otherwise the vector is invalid.
pub(crate) fn merge_same_labels(series: Vec<Series>) -> Result<Vec<Series>> {
    let mut seen: HashSet<&Labels> = HashSet::with_capacity(series.len());
    let dup = series.iter().any(|s| !seen.insert(&s.labels));
    if !dup {
        return Ok(series);
    }
    let mut order: Vec<Series> = Vec::new();
    let mut index: std::collections::HashMap<Labels, usize> = std::collections::HashMap::new();
    for s in series {
        match index.get(&s.labels) {
            None => {
                index.insert(s.labels.clone(), order.len());
                order.push(s);
            }
            Some(&i) => {
                let into = &mut order[i];
                for (a, b) in into.vals.iter_mut().zip(s.vals) {
                    match (a.is_some(), b) {
                        (true, Some(_)) => return Err(exec(SAME_LABELSET)),
                        (false, Some(v)) => *a = Some(v),
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    fn data() -> Data {
        let mut d = Data::default();
        let series = (0..3)
            .map(|i| RawSeries {
                labels: Labels::new(vec![
                    ("__name__".into(), "m".into()),
                    ("i".into(), i.to_string()),
                ]),
                ts: (0..10).map(|t| t * 15_000).collect(),
                vals: (0..10).map(|t| (t * i) as f64).collect(),
            })
            .collect();
        d.insert("m".into(), series);
        d
    }

    fn q() -> Query {
        Query {
            start: 60_000,
            end: 135_000,
            step: 15_000,
            lookback: 300_000,
            subquery_step: 60_000,
            instant: false,
        }
    }

    #[test]
    fn a_passed_deadline_is_a_timeout() {
        let limits = Limits {
            deadline: Instant::now().checked_sub(std::time::Duration::from_secs(1)),
            ..Limits::default()
        };
        let e = crate::parse("sum(rate(m[1m]))").unwrap();
        assert!(matches!(
            evaluate(&e, &q(), &data(), &limits),
            Err(PromqlError::Timeout(_))
        ));
    }

    #[test]
    fn sample_and_series_limits_are_errors_not_allocations() {
        let e = crate::parse("m").unwrap();
        let few_samples = Limits {
            max_samples: 5,
            ..Limits::default()
        };
        assert!(matches!(
            evaluate(&e, &q(), &data(), &few_samples),
            Err(PromqlError::Limit(m)) if m == TOO_MANY_SAMPLES
        ));
        let few_series = Limits {
            max_series: 2,
            ..Limits::default()
        };
        assert!(matches!(
            evaluate(&e, &q(), &data(), &few_series),
            Err(PromqlError::Limit(m)) if m.contains("max_series")
        ));
        // A huge subquery is refused before its steps are allocated.
        let e = crate::parse("max_over_time(m[1y:1ms])").unwrap();
        assert!(matches!(
            evaluate(&e, &q(), &data(), &Limits::default()),
            Err(PromqlError::Limit(m)) if m.contains("steps")
        ));
        // Within the limits: 3 series over 6 steps.
        let e = crate::parse("m").unwrap();
        let Ok(Value::Vector(v)) = evaluate(&e, &q(), &data(), &Limits::default()) else {
            panic!("vector expected")
        };
        assert_eq!(v.len(), 3);
        assert_eq!(
            v[2].vals,
            (4..10).map(|t| Some((t * 2) as f64)).collect::<Vec<_>>()
        );
    }
}
