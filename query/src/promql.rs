//! PromQL v0: instant queries of vector selectors (all four matcher kinds, `offset`,
//! `@`), number and string literals, with Prometheus' lookback delta and staleness.
//! The full engine is its own issue; everything else is refused with `bad_data`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use datafusion::prelude::{col, lit};
use promql_parser::parser::{self, AtModifier, Expr, Offset, VectorSelector};
use serde_json::{Value, json};

use crate::columns::{Maps, f64s, strings, timestamps, u64s};
use crate::{QueryError, QueryState, session::session};

/// Prometheus' staleness marker.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// Prometheus' float rendering in JSON values.
pub fn format_value(v: f64) -> String {
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

fn secs(ns: i64) -> Value {
    json!(ns as f64 / 1e9)
}

fn system_time_ns(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i64,
        Err(e) => -(e.duration().as_nanos() as i64),
    }
}

/// Evaluates `query` at `time_ns`; returns Prometheus' `data` object.
pub async fn instant(
    st: &QueryState,
    tenant: &str,
    query: &str,
    time_ns: i64,
) -> Result<Value, QueryError> {
    let expr = parser::parse(query)
        .map_err(|e| QueryError::BadData(format!("invalid parameter \"query\": {e}")))?;
    let timeout = st.config.timeout;
    tokio::time::timeout(timeout, eval(st, tenant, &expr, time_ns))
        .await
        .map_err(|_| QueryError::Timeout(timeout))?
}

async fn eval(st: &QueryState, tenant: &str, expr: &Expr, t: i64) -> Result<Value, QueryError> {
    match expr {
        Expr::Paren(p) => Box::pin(eval(st, tenant, &p.expr, t)).await,
        Expr::NumberLiteral(n) => {
            Ok(json!({"resultType": "scalar", "result": [secs(t), format_value(n.val)]}))
        }
        Expr::StringLiteral(s) => Ok(json!({"resultType": "string", "result": [secs(t), s.val]})),
        Expr::VectorSelector(vs) => {
            let result = select(st, tenant, vs, t).await?;
            Ok(json!({"resultType": "vector", "result": result}))
        }
        other => Err(QueryError::BadData(format!(
            "unsupported expression {other}: only vector selectors and literals are evaluated so far"
        ))),
    }
}

/// The latest sample of each matching series within the lookback window before `t`.
async fn select(
    st: &QueryState,
    tenant: &str,
    vs: &VectorSelector,
    t: i64,
) -> Result<Vec<Value>, QueryError> {
    let mut at = match &vs.at {
        None | Some(AtModifier::Start) | Some(AtModifier::End) => t,
        Some(AtModifier::At(time)) => system_time_ns(*time),
    };
    match &vs.offset {
        Some(Offset::Pos(d)) => at -= d.as_nanos() as i64,
        Some(Offset::Neg(d)) => at += d.as_nanos() as i64,
        None => {}
    }
    let lookback = st
        .config
        .lookback_delta
        .min(Duration::from_secs(86400 * 365));
    let from = at - lookback.as_nanos() as i64;
    let ts = |ns: i64| {
        lit(datafusion::scalar::ScalarValue::TimestampNanosecond(
            Some(ns),
            Some("UTC".into()),
        ))
    };
    let mut filter = col("timestamp")
        .gt(ts(from))
        .and(col("timestamp").lt_eq(ts(at)));
    if let Some(name) = &vs.name {
        filter = filter.and(col("metric").eq(lit(name.as_str())));
    }
    for m in &vs.matchers.matchers {
        if m.name == "__name__" && matches!(m.op, promql_parser::label::MatchOp::Equal) {
            filter = filter.and(col("metric").eq(lit(m.value.as_str())));
        }
    }
    let ctx = session(&st.storage, tenant).await?;
    let batches = ctx
        .table("metrics")
        .await?
        .filter(filter)?
        .collect()
        .await?;

    // series id → (timestamp, value, labels)
    let mut latest: HashMap<u64, (i64, f64, usize, usize)> = HashMap::new();
    for (bi, b) in batches.iter().enumerate() {
        let sid = u64s(b, "series_id")?;
        let tsa = timestamps(b, "timestamp")?;
        let val = f64s(b, "value")?;
        for i in 0..b.num_rows() {
            let e = latest.entry(sid.value(i)).or_insert((i64::MIN, 0.0, bi, i));
            if tsa.value(i) >= e.0 {
                *e = (tsa.value(i), val.value(i), bi, i);
            }
        }
    }
    let mut out = Vec::new();
    let mut label_cache: HashMap<usize, (arrow::array::StringArray, Maps)> = HashMap::new();
    for (_, (_, v, bi, i)) in latest {
        if v.to_bits() == STALE_NAN {
            continue;
        }
        if let std::collections::hash_map::Entry::Vacant(e) = label_cache.entry(bi) {
            e.insert((
                strings(&batches[bi], "metric")?,
                Maps::new(&batches[bi], "labels")?,
            ));
        }
        let Some((metric, maps)) = label_cache.get(&bi) else {
            continue;
        };
        let mut labels = maps.row(i);
        labels.push(("__name__".into(), metric.value(i).to_string()));
        let get = |name: &str| {
            labels
                .iter()
                .find(|(k, _)| k == name)
                .map_or("", |(_, v)| v.as_str())
        };
        let plain = vs
            .matchers
            .matchers
            .iter()
            .all(|m| m.is_match(get(&m.name)));
        let or_ok = vs.matchers.or_matchers.is_empty()
            || vs
                .matchers
                .or_matchers
                .iter()
                .any(|group| group.iter().all(|m| m.is_match(get(&m.name))));
        let name_ok = vs.name.as_deref().is_none_or(|n| get("__name__") == n);
        if !(plain && or_ok && name_ok) {
            continue;
        }
        labels.sort();
        let metric_obj: serde_json::Map<String, Value> = labels
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        out.push(json!({"metric": metric_obj, "value": [secs(t), format_value(v)]}));
    }
    out.sort_by(|a, b| a["metric"].to_string().cmp(&b["metric"].to_string()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_like_prometheus() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    }
}
