//! Range vectors (`x[5m]`, subqueries) and the functions over their windows.

use promql_parser::parser::Expr;

use crate::error::{PromqlError, Result, exec};
use crate::eval::{Ev, TOO_MANY_SAMPLES, unwrap_parens};
use crate::plan::{align_up, at_ms, offset_ms, selector_key};
use crate::value::{RawSeries, Series, is_stale};

/// Most steps one subquery evaluation may have (each series holds a slot per step).
const MAX_SUBQUERY_STEPS: i64 = 1_100_000;

/// The series of a range vector and where its window ends at a step.
pub(crate) struct Windows {
    pub series: Vec<RawSeries>,
    pub range: i64,
    offset: i64,
    at: Option<i64>,
}

impl Windows {
    /// The window's end for step time `t`; it starts `range` earlier (both ends closed).
    pub fn end_at(&self, t: i64) -> i64 {
        self.at.unwrap_or(t).saturating_sub(self.offset)
    }
}

/// A range selector's samples (staleness markers removed) or a subquery's points.
pub(crate) fn input(ev: &Ev<'_>, e: &Expr) -> Result<Windows> {
    match unwrap_parens(e) {
        Expr::MatrixSelector(ms) => {
            let vs = &ms.vs;
            let series = ev
                .data
                .get(&selector_key(vs))
                .iter()
                .map(|s| {
                    if s.vals.iter().any(|&v| is_stale(v)) {
                        let keep: Vec<usize> =
                            (0..s.ts.len()).filter(|&i| !is_stale(s.vals[i])).collect();
                        RawSeries {
                            labels: s.labels.clone(),
                            ts: keep.iter().map(|&i| s.ts[i]).collect(),
                            vals: keep.iter().map(|&i| s.vals[i]).collect(),
                        }
                    } else {
                        s.clone()
                    }
                })
                .collect();
            Ok(Windows {
                series,
                range: ms.range.as_millis() as i64,
                offset: offset_ms(&vs.offset),
                at: at_ms(&vs.at, ev.q),
            })
        }
        Expr::Subquery(sq) => {
            let step = sq
                .step
                .map(|d| d.as_millis() as i64)
                .filter(|&s| s > 0)
                .unwrap_or(ev.q.subquery_step);
            let range = sq.range.as_millis() as i64;
            let offset = offset_ms(&sq.offset);
            let at = at_ms(&sq.at, ev.q);
            let first = at.unwrap_or(ev.t(0)).saturating_sub(offset);
            let last = at
                .unwrap_or(ev.t(ev.n.saturating_sub(1)))
                .saturating_sub(offset);
            let inner_start = align_up(first.saturating_sub(range), step);
            // Every series holds a slot per step: bound the steps before allocating.
            let steps = (last.saturating_sub(inner_start) / step).saturating_add(1);
            if steps > MAX_SUBQUERY_STEPS {
                return Err(PromqlError::Limit(format!(
                    "subquery {sq} would be evaluated at {steps} steps, more than {MAX_SUBQUERY_STEPS}; use a larger step"
                )));
            }
            let inner = Ev::new(ev.q, ev.data, ev.limits, inner_start, last, step);
            let vals = match inner.eval(&sq.expr)? {
                crate::Value::Vector(v) => v,
                other => {
                    return Err(PromqlError::Unsupported(format!(
                        "subquery is only allowed on instant vector, got {}",
                        other.type_name()
                    )));
                }
            };
            let series = vals
                .into_iter()
                .map(|s| {
                    let mut r = RawSeries {
                        labels: s.labels,
                        ..Default::default()
                    };
                    for (i, v) in s.vals.into_iter().enumerate() {
                        if let Some(v) = v {
                            r.ts.push(inner.t(i));
                            r.vals.push(v);
                        }
                    }
                    r
                })
                .collect();
            Ok(Windows {
                series,
                range,
                offset,
                at,
            })
        }
        _ => Err(PromqlError::Unsupported(
            "expected a range vector (a range selector or a subquery)".into(),
        )),
    }
}

/// Applies `f` to each series' window at each step; `keep_name` keeps `__name__`.
/// `f` gets the window's times and values, its start and end, and the step index.
pub(crate) fn over_windows<F>(
    ev: &Ev<'_>,
    w: &Windows,
    keep_name: bool,
    f: F,
) -> Result<Vec<Series>>
where
    F: Fn(&[i64], &[f64], i64, i64, usize) -> Option<f64>,
{
    over_windows_with(
        ev,
        w,
        keep_name,
        |_| (),
        |_, s, r, start, end, i| f(&s.ts[r.clone()], &s.vals[r], start, end, i),
    )
}

/// [`over_windows`] with per-series state: `init` makes it from the whole series
/// (e.g. where its counter resets are), and `f` gets it with the window as an index
/// range into the series. Windows only move forward, so state can slide with them.
pub(crate) fn over_windows_with<S, I, F>(
    ev: &Ev<'_>,
    w: &Windows,
    keep_name: bool,
    init: I,
    f: F,
) -> Result<Vec<Series>>
where
    I: Fn(&RawSeries) -> S,
    F: Fn(&mut S, &RawSeries, std::ops::Range<usize>, i64, i64, usize) -> Option<f64>,
{
    let mut out = Vec::with_capacity(w.series.len());
    let mut loaded = vec![0usize; ev.n];
    for s in &w.series {
        ev.check_deadline("range function")?;
        let mut state = init(s);
        let mut vals = Vec::with_capacity(ev.n);
        let mut any = false;
        // Window ends never move back from one step to the next: two cursors.
        let (mut lo, mut hi) = (0usize, 0usize);
        for (i, l) in loaded.iter_mut().enumerate() {
            let end = w.end_at(ev.t(i));
            let start = end.saturating_sub(w.range);
            while lo < s.ts.len() && s.ts[lo] < start {
                lo += 1;
            }
            hi = hi.max(lo);
            while hi < s.ts.len() && s.ts[hi] <= end {
                hi += 1;
            }
            let r = lo..hi;
            *l += r.len();
            if *l > ev.limits.max_samples {
                return Err(crate::PromqlError::Limit(TOO_MANY_SAMPLES.into()));
            }
            let v = if r.is_empty() {
                None
            } else {
                f(&mut state, s, r, start, end, i)
            };
            any |= v.is_some();
            vals.push(v);
        }
        if any {
            out.push(Series {
                labels: if keep_name {
                    s.labels.clone()
                } else {
                    s.labels.without_name()
                },
                vals,
            });
        }
    }
    Ok(out)
}

/// Where a series' counter resets: the indexes whose value is below the one before.
pub(crate) fn resets_of(vs: &[f64]) -> Vec<usize> {
    (1..vs.len()).filter(|&i| vs[i] < vs[i - 1]).collect()
}

/// `rate`, `increase` and `delta` of the window `r` of a series whose counter resets
/// are at `resets` (see [`resets_of`]; empty for `delta`): only the resets inside the
/// window are visited, in order, so the sum is the one [`extrapolated`] makes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn extrapolated_at(
    ts: &[i64],
    vs: &[f64],
    r: std::ops::Range<usize>,
    resets: &[usize],
    start: i64,
    end: i64,
    counter: bool,
    per_second: bool,
    range: i64,
) -> Option<f64> {
    if r.len() < 2 {
        return None;
    }
    let (first, last) = (vs[r.start], vs[r.end - 1]);
    let mut result = last - first;
    if counter {
        let from = resets.partition_point(|&p| p <= r.start);
        for &p in resets[from..].iter().take_while(|&&p| p < r.end) {
            result += vs[p - 1];
        }
    }
    Some(extrapolate(
        &ts[r], first, result, start, end, counter, per_second, range,
    ))
}

/// A window's change `result` (first value `first`) extrapolated toward its ends.
#[allow(clippy::too_many_arguments)]
fn extrapolate(
    ts: &[i64],
    first: f64,
    mut result: f64,
    start: i64,
    end: i64,
    counter: bool,
    per_second: bool,
    range: i64,
) -> f64 {
    let mut to_start = (ts[0] - start) as f64 / 1000.0;
    let to_end = (end - ts[ts.len() - 1]) as f64 / 1000.0;
    let sampled = (ts[ts.len() - 1] - ts[0]) as f64 / 1000.0;
    let avg_gap = sampled / (ts.len() - 1) as f64;
    if counter && result > 0.0 && first >= 0.0 {
        let to_zero = sampled * (first / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_gap * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_gap / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_gap / 2.0
    };
    result *= interval / sampled;
    if per_second {
        result /= range as f64 / 1000.0;
    }
    result
}

/// `max_over_time` (`max`) or `min_over_time` over windows that only move forward:
/// a deque of the indexes that can still be the answer, best first. Like 2.42, the
/// answer is the first occurrence of the largest (smallest) value, NaN only when
/// every value is NaN.
#[derive(Default)]
pub(crate) struct Extremum {
    deque: std::collections::VecDeque<usize>,
    /// The next index not yet pushed.
    next: usize,
}

impl Extremum {
    pub(crate) fn at(&mut self, vs: &[f64], r: std::ops::Range<usize>, max: bool) -> f64 {
        // `a` is worse than `b`: NaN loses to any number.
        let worse = |a: f64, b: f64| (a.is_nan() && !b.is_nan()) || if max { a < b } else { a > b };
        self.next = self.next.max(r.start);
        while self.next < r.end {
            let v = vs[self.next];
            while self.deque.back().is_some_and(|&b| worse(vs[b], v)) {
                self.deque.pop_back();
            }
            self.deque.push_back(self.next);
            self.next += 1;
        }
        while self.deque.front().is_some_and(|&f| f < r.start) {
            self.deque.pop_front();
        }
        self.deque.front().map_or(f64::NAN, |&i| vs[i])
    }
}

/// `rate`, `increase` and `delta`: the change over the window, extrapolated toward the
/// window's ends the way Prometheus 2.42 does (at most half a sample interval past the
/// first/last sample unless they are close to the ends; counters not below zero).
/// The evaluator uses [`extrapolated_at`]; this is its reference in tests.
#[cfg(test)]
pub(crate) fn extrapolated(
    ts: &[i64],
    vs: &[f64],
    start: i64,
    end: i64,
    counter: bool,
    per_second: bool,
    range: i64,
) -> Option<f64> {
    if ts.len() < 2 {
        return None;
    }
    let (first, last) = (vs[0], vs[vs.len() - 1]);
    let mut result = last - first;
    if counter {
        let mut prev = 0.0;
        for &v in vs {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    Some(extrapolate(
        ts, first, result, start, end, counter, per_second, range,
    ))
}

/// `irate` and `idelta`: from the last two samples.
pub(crate) fn instant_change(ts: &[i64], vs: &[f64], rate: bool) -> Option<f64> {
    let n = ts.len();
    if n < 2 {
        return None;
    }
    let (prev, last) = (vs[n - 2], vs[n - 1]);
    let mut r = if rate && last < prev {
        last
    } else {
        last - prev
    };
    if rate {
        let gap = ts[n - 1] - ts[n - 2];
        if gap == 0 {
            return None;
        }
        r /= gap as f64 / 1000.0;
    }
    Some(r)
}

/// Least-squares slope and intercept, x in seconds relative to `origin` (ms).
pub(crate) fn linear_regression(ts: &[i64], vs: &[f64], origin: i64) -> (f64, f64) {
    let (mut n, mut sx, mut sy, mut sxy, mut sx2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let init = vs[0];
    let mut constant = true;
    for (i, (&t, &v)) in ts.iter().zip(vs).enumerate() {
        if constant && i > 0 && v != init {
            constant = false;
        }
        n += 1.0;
        let x = (t - origin) as f64 / 1000.0;
        sx += x;
        sy += v;
        sxy += x * v;
        sx2 += x * x;
    }
    if constant {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Double exponential smoothing (`holt_winters` in 2.42).
pub(crate) fn holt_winters(vs: &[f64], sf: f64, tf: f64) -> Option<f64> {
    if vs.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, vs[0]);
    let mut b = vs[1] - vs[0];
    for (i, &v) in vs.iter().enumerate().skip(1) {
        let x = sf * v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

/// Incremental mean as 2.42's `avg_over_time` and `avg` compute it (no overflow to Inf
/// for large finite values).
pub(crate) fn mean(vs: impl Iterator<Item = f64>) -> f64 {
    let mut m = Mean::default();
    vs.for_each(|v| m.push(v));
    m.mean
}

/// Prometheus' incremental mean, one value at a time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mean {
    pub mean: f64,
    count: f64,
}

impl Mean {
    pub fn push(&mut self, v: f64) {
        self.count += 1.0;
        if self.count == 1.0 {
            self.mean = v;
            return;
        }
        if self.mean.is_infinite() {
            if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                return;
            }
            if !v.is_infinite() && !v.is_nan() {
                return;
            }
        }
        self.mean += v / self.count - self.mean / self.count;
    }
}

/// One step of Kahan-Neumaier compensated summation: the new sum and compensation.
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// `sum_over_time`: compensated, as 2.42 sums.
pub(crate) fn kahan_sum(vs: &[f64]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for &v in vs {
        (sum, c) = kahan_inc(v, sum, c);
    }
    // An overflowed sum stays ±Inf: its compensation holds the opposite infinity,
    // and adding it would give NaN.
    if sum.is_infinite() { sum } else { sum + c }
}

/// `avg_over_time`: an incremental, compensated mean, as 2.42 computes it.
pub(crate) fn kahan_mean(vs: &[f64]) -> f64 {
    let (mut mean, mut c, mut count) = (0.0f64, 0.0, 0.0);
    for &v in vs {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() { mean } else { mean + c }
}

/// Population variance (Welford), as `stdvar`/`stdvar_over_time`.
pub(crate) fn variance(vs: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut aux) = (0.0, 0.0, 0.0);
    for v in vs {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        aux += delta * (v - mean);
    }
    aux / count
}

/// Population variance as the `stddev`/`stdvar` aggregations compute it: the first
/// value starts the mean, so one sample (even NaN or ±Inf) has variance 0.
pub(crate) fn group_variance(vs: &[f64]) -> f64 {
    let Some((&first, rest)) = vs.split_first() else {
        return f64::NAN;
    };
    let (mut count, mut mean, mut value) = (1.0, first, 0.0);
    for &v in rest {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        value += delta * (v - mean);
    }
    value / count
}

/// The φ-quantile by linear interpolation between closest ranks (`quantile`,
/// `quantile_over_time`).
pub(crate) fn quantile(q: f64, mut vs: Vec<f64>) -> f64 {
    if vs.is_empty() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // NaN sorts first, as Go's vectorByValueHeap orders it.
    vs.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = vs.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    vs[lower as usize] * (1.0 - weight) + vs[upper as usize] * weight
}

pub(crate) fn check_factor(name: &str, what: &str, v: f64) -> Result<()> {
    if v <= 0.0 || v >= 1.0 {
        return Err(exec(format!(
            "invalid {what} factor. Expected: 0 < {name} < 1, got: {v}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_extrapolates_to_window_ends() {
        // Samples every 15 s at 15..=285 s of a 300 s window: counter +1 per sample.
        let ts: Vec<i64> = (1..=19).map(|i| i * 15_000).collect();
        let vs: Vec<f64> = (1..=19).map(|i| i as f64).collect();
        let r = extrapolated(&ts, &vs, 0, 300_000, true, true, 300_000).unwrap();
        // 18 increments over 270 s, extrapolated by 15 s each side (< 1.1 × gap).
        // Toward the start the counter would hit zero 15 s before the first sample.
        assert!((r - 18.0 * 300.0 / 270.0 / 300.0).abs() < 1e-12, "{r}");
    }

    /// A small deterministic generator (no dependency) for the sliding-window checks.
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn sliding_windows_answer_as_each_window_alone() {
        let mut seed = 7u64;
        for _ in 0..50 {
            let n = 1 + (lcg(&mut seed) % 80) as usize;
            let mut t = 0i64;
            let (mut ts, mut vs) = (Vec::new(), Vec::new());
            let mut v = 0.0f64;
            for _ in 0..n {
                t += 1 + (lcg(&mut seed) % 20_000) as i64;
                v = match lcg(&mut seed) % 10 {
                    0 => 0.0,      // counter reset
                    1 => f64::NAN, // NaN sample
                    2 => v,        // unchanged (ties)
                    _ => v + (lcg(&mut seed) % 1000) as f64 / 7.0,
                };
                ts.push(t);
                vs.push(v);
            }
            let resets = resets_of(&vs);
            let range = 30_000 + (lcg(&mut seed) % 60_000) as i64;
            let (mut max, mut min) = (Extremum::default(), Extremum::default());
            let (mut lo, mut hi) = (0usize, 0usize);
            let mut end = ts[0];
            while end <= t + range {
                let start = end - range;
                while lo < n && ts[lo] < start {
                    lo += 1;
                }
                hi = hi.max(lo);
                while hi < n && ts[hi] <= end {
                    hi += 1;
                }
                if lo < hi {
                    let (wt, wv) = (&ts[lo..hi], &vs[lo..hi]);
                    for (counter, per_second) in [(true, true), (true, false), (false, false)] {
                        let none: &[usize] = &[];
                        let rs = if counter { &resets[..] } else { none };
                        let a = extrapolated_at(
                            &ts,
                            &vs,
                            lo..hi,
                            rs,
                            start,
                            end,
                            counter,
                            per_second,
                            range,
                        );
                        let b = extrapolated(wt, wv, start, end, counter, per_second, range);
                        assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "{lo}..{hi}");
                    }
                    let naive = |is_max: bool| {
                        let mut acc = wv[0];
                        for &x in &wv[1..] {
                            if (if is_max { acc < x } else { acc > x }) || acc.is_nan() {
                                acc = x;
                            }
                        }
                        acc
                    };
                    let (m, mm) = (max.at(&vs, lo..hi, true), min.at(&vs, lo..hi, false));
                    assert!(
                        m.to_bits() == naive(true).to_bits()
                            || (m.is_nan() && naive(true).is_nan())
                    );
                    assert!(
                        mm.to_bits() == naive(false).to_bits()
                            || (mm.is_nan() && naive(false).is_nan())
                    );
                }
                end += 1 + (lcg(&mut seed) % 15_000) as i64;
            }
        }
    }

    #[test]
    fn overflowing_sums_give_inf_not_nan() {
        // Prometheus' functions.test: two near-max values overflow float64.
        let big = 9.988_465_674_311_58e307;
        assert_eq!(kahan_sum(&[big, big]), f64::INFINITY);
        assert_eq!(kahan_sum(&[-big, -big, -big]), f64::NEG_INFINITY);
        assert_eq!(kahan_sum(&[1.0, 2.0, 3.0]), 6.0);
        // The mean of the same values does not overflow.
        assert_eq!(kahan_mean(&[big, big]), big);
        assert_eq!(kahan_mean(&[-big, big]), 0.0);
    }

    #[test]
    fn counter_resets_add_the_previous_value() {
        let ts = [0, 10_000, 20_000];
        let vs = [5.0, 8.0, 2.0];
        let r = extrapolated(&ts, &vs, 0, 20_000, true, false, 20_000).unwrap();
        assert_eq!(r, 2.0 - 5.0 + 8.0);
        assert_eq!(instant_change(&ts, &vs, true), Some(0.2));
        assert_eq!(instant_change(&ts, &vs, false), Some(-6.0));
    }

    #[test]
    fn quantile_interpolates() {
        assert_eq!(quantile(0.5, vec![1.0, 3.0, 2.0, 4.0]), 2.5);
        assert_eq!(quantile(2.0, vec![1.0]), f64::INFINITY);
        assert!(quantile(0.5, vec![]).is_nan());
    }

    #[test]
    fn regression_of_a_line() {
        let ts = [0, 1000, 2000];
        let (slope, icpt) = linear_regression(&ts, &[1.0, 3.0, 5.0], 0);
        assert_eq!((slope, icpt), (2.0, 1.0));
    }
}
