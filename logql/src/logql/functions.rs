//! The arithmetic of range functions (over one series' points in a window) and of vector
//! aggregations (over one group's values), as Loki computes them.

use super::ast::{AggOp, RangeOp};

/// A range function over a series' points `(unix ns, value)`, oldest first; `None` when
/// it has no value (no points).
pub fn over_time(
    op: RangeOp,
    param: Option<f64>,
    points: &[(i64, f64)],
    seconds: f64,
) -> Option<f64> {
    if points.is_empty() {
        return None;
    }
    let values = || points.iter().map(|(_, v)| *v);
    let sum = || values().sum::<f64>();
    Some(match op {
        RangeOp::CountOverTime => points.len() as f64,
        RangeOp::Rate | RangeOp::BytesRate => sum() / seconds,
        RangeOp::BytesOverTime | RangeOp::SumOverTime => sum(),
        RangeOp::AbsentOverTime => 1.0,
        RangeOp::AvgOverTime => sum() / points.len() as f64,
        RangeOp::MinOverTime => {
            values().fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m })
        }
        RangeOp::MaxOverTime => {
            values().fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m })
        }
        RangeOp::StdvarOverTime => variance(values()),
        RangeOp::StddevOverTime => variance(values()).sqrt(),
        RangeOp::QuantileOverTime => quantile(param.unwrap_or(0.5), values().collect()),
        RangeOp::FirstOverTime => points[0].1,
        RangeOp::LastOverTime => points[points.len() - 1].1,
        RangeOp::RateCounter => counter_rate(points, seconds),
    })
}

/// Population variance, Welford's way.
fn variance(values: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut aux) = (0.0, 0.0, 0.0);
    for v in values {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        aux += delta * (v - mean);
    }
    aux / count
}

/// φ-quantile with linear interpolation between the closest ranks.
pub fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// `rate_counter`: Prometheus' extrapolated rate of a counter over the window.
fn counter_rate(points: &[(i64, f64)], seconds: f64) -> f64 {
    if points.len() < 2 {
        return 0.0;
    }
    let (first, last) = (points[0], points[points.len() - 1]);
    let mut result = last.1 - first.1;
    let mut prev = 0.0;
    for (_, v) in points {
        if *v < prev {
            result += prev;
        }
        prev = *v;
    }
    let range_start = first.0 as f64 / 1e9 - seconds;
    let range_end = last.0 as f64 / 1e9;
    let mut to_start = first.0 as f64 / 1e9 - range_start;
    let to_end = range_end - last.0 as f64 / 1e9;
    let sampled = (last.0 - first.0) as f64 / 1e9;
    let average = sampled / (points.len() - 1) as f64;
    if result > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = average * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        average / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        average / 2.0
    };
    result * (interval / sampled) / seconds
}

/// A vector aggregation over one group's values (not `topk`, `bottomk`, `sort`).
pub fn combine(op: AggOp, values: &[f64]) -> f64 {
    let n = values.len() as f64;
    match op {
        AggOp::Sum => values.iter().sum(),
        AggOp::Avg => values.iter().sum::<f64>() / n,
        AggOp::Count => n,
        AggOp::Min => values
            .iter()
            .copied()
            .fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m }),
        AggOp::Max => values
            .iter()
            .copied()
            .fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m }),
        AggOp::Stdvar => variance(values.iter().copied()),
        AggOp::Stddev => variance(values.iter().copied()).sqrt(),
        AggOp::Topk | AggOp::Bottomk | AggOp::Sort | AggOp::SortDesc => f64::NAN,
    }
}
