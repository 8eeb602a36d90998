//! PromQL v0: instant queries of vector selectors (all four matcher kinds, `offset`,
//! `@`), number and string literals, with Prometheus' lookback delta and staleness.
//! The full engine is its own issue; everything else is refused with `bad_data`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use datafusion::prelude::{col, lit};
use promql_parser::parser::{self, AtModifier, Expr, Offset, VectorSelector};
use serde_json::{Value, json};

use std::sync::Arc;

use osprey_storage::series::{Matcher, Series};

use crate::columns::{f64s, timestamps, u64s};
use osprey_storage::Signal;

use crate::{QueryError, QueryState, session::signal_session};

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
    // Resolve the selector to series through the series index (no sample is read).
    let series = resolve(st, tenant, vs);
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let by_id: HashMap<u64, &Series> = series.iter().map(|s| (s.id, s.as_ref())).collect();
    let ids: Vec<_> = series.iter().map(|s| lit(s.id)).collect();
    let filter = col("timestamp")
        .gt(ts(from))
        .and(col("timestamp").lt_eq(ts(at)))
        .and(col("series_id").in_list(ids, false));
    let ctx = signal_session(&st.storage, tenant, Signal::Metrics, None).await?;
    let batches = ctx
        .table("samples")
        .await?
        .filter(filter)?
        .collect()
        .await?;

    // Latest sample of each series.
    let mut latest: HashMap<u64, (i64, f64)> = HashMap::new();
    for b in &batches {
        let sid = u64s(b, "series_id")?;
        let tsa = timestamps(b, "timestamp")?;
        let val = f64s(b, "value")?;
        for i in 0..b.num_rows() {
            let e = latest.entry(sid.value(i)).or_insert((i64::MIN, 0.0));
            if tsa.value(i) >= e.0 {
                *e = (tsa.value(i), val.value(i));
            }
        }
    }
    let mut out = Vec::new();
    for (id, (_, v)) in latest {
        // A staleness marker ends the series: nothing to return for it.
        if v.to_bits() == STALE_NAN {
            continue;
        }
        let Some(s) = by_id.get(&id) else { continue };
        let mut metric = serde_json::Map::new();
        metric.insert("__name__".into(), Value::String(s.metric.clone()));
        for (k, v) in &s.labels {
            metric.insert(k.clone(), Value::String(v.clone()));
        }
        out.push(json!({"metric": metric, "value": [secs(t), format_value(v)]}));
    }
    out.sort_by(|a, b| a["metric"].to_string().cmp(&b["metric"].to_string()));
    Ok(out)
}

/// Series matching any of the `match[]` selectors (Prometheus `/api/v1/series`).
pub fn series_matching(
    st: &QueryState,
    tenant: &str,
    selectors: &[String],
) -> Result<Vec<Value>, QueryError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for sel in selectors {
        let expr = parser::parse(sel)
            .map_err(|e| QueryError::BadData(format!("invalid parameter \"match[]\": {e}")))?;
        let Expr::VectorSelector(vs) = expr else {
            return Err(QueryError::BadData(format!(
                "invalid parameter \"match[]\": {sel} is not a series selector"
            )));
        };
        for s in resolve(st, tenant, &vs) {
            if seen.insert(s.id) {
                let mut m = serde_json::Map::new();
                m.insert("__name__".into(), Value::String(s.metric.clone()));
                for (k, v) in &s.labels {
                    m.insert(k.clone(), Value::String(v.clone()));
                }
                out.push(Value::Object(m));
            }
        }
    }
    Ok(out)
}

type Predicate<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// Series matching a selector: its name and matchers, or any of its `or` groups.
fn resolve(st: &QueryState, tenant: &str, vs: &VectorSelector) -> Vec<Arc<Series>> {
    let index = st.storage.series();
    let name_pred = vs.name.clone().map(|n| move |v: &str| v == n);
    let select = |group: &[promql_parser::label::Matcher]| {
        let preds: Vec<(String, Predicate<'_>)> = group
            .iter()
            .map(|m| {
                let f: Predicate<'_> = Box::new(move |v: &str| m.is_match(v));
                (m.name.clone(), f)
            })
            .collect();
        let mut matchers: Vec<Matcher<'_>> = preds
            .iter()
            .map(|(n, f)| Matcher {
                name: n.as_str(),
                matches: f.as_ref(),
            })
            .collect();
        if let Some(p) = &name_pred {
            matchers.push(Matcher {
                name: "__name__",
                matches: p,
            });
        }
        index.select(tenant, &matchers)
    };
    if vs.matchers.or_matchers.is_empty() {
        return select(&vs.matchers.matchers);
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for group in &vs.matchers.or_matchers {
        let mut g = vs.matchers.matchers.clone();
        g.extend(group.iter().cloned());
        for s in select(&g) {
            if seen.insert(s.id) {
                out.push(s);
            }
        }
    }
    out
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
