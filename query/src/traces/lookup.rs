//! The trace engine behind Jaeger's APIs: a trace's spans by id, services, operations
//! (with kinds), and dependencies from the service-graph series. Typed values out;
//! `api/jaeger_v1` and `api/jaeger_v3` render them.

use std::collections::BTreeMap;

use arrow::array::{Array, RecordBatch};
use datafusion::prelude::{col, lit};

use crate::columns::strings;
use crate::sql::session::signal_session;
use crate::{QueryError, QueryState};
use osprey_storage::Signal;

/// Lowercase, left-padded to 32 hex digits (Jaeger accepts 64-bit ids too).
pub fn normalize_trace_id(id: &str) -> Result<String, QueryError> {
    let id = id.trim().to_ascii_lowercase();
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(QueryError::BadData(format!(
            "invalid trace id {id:?}: expected 1-32 hex digits"
        )));
    }
    Ok(format!("{id:0>32}"))
}

/// All spans of a trace, from memtables and files (`tracefetch.rs`).
pub async fn find_trace(
    st: &QueryState,
    tenant: &str,
    trace_id: &str,
) -> Result<Vec<RecordBatch>, QueryError> {
    let mut found = crate::traces::fetch::find_traces(st, tenant, &[trace_id.to_string()]).await?;
    Ok(found.remove(trace_id).unwrap_or_default())
}

/// Span names of one service, sorted (Jaeger's `/api/services/{service}/operations`).
pub async fn operations(
    st: &QueryState,
    tenant: &str,
    service: &str,
) -> Result<Vec<String>, QueryError> {
    let ctx = signal_session(st, tenant, Signal::Spans, None).await?;
    let df = ctx
        .table("spans")
        .await?
        .filter(col("service").eq(lit(service)))?
        .select(vec![col("name")])?
        .distinct()?
        .sort(vec![col("name").sort(true, false)])?;
    let mut out = Vec::new();
    for b in df.collect().await? {
        let s = strings(&b, "name")?;
        out.extend((0..s.len()).map(|i| s.value(i).to_string()));
    }
    Ok(out)
}

/// Span names of one service with their kinds (Jaeger v3's `/api/v3/operations`),
/// optionally of one stored kind (`SPAN_KIND_SERVER`, …), sorted.
pub async fn operation_kinds(
    st: &QueryState,
    tenant: &str,
    service: &str,
    kind: Option<&str>,
) -> Result<Vec<(String, String)>, QueryError> {
    let ctx = signal_session(st, tenant, Signal::Spans, None).await?;
    let mut filter = col("service").eq(lit(service));
    if let Some(k) = kind {
        filter = filter.and(col("kind").eq(lit(k)));
    }
    let df = ctx
        .table("spans")
        .await?
        .filter(filter)?
        .select(vec![col("name"), col("kind")])?
        .distinct()?
        .sort(vec![
            col("name").sort(true, false),
            col("kind").sort(true, false),
        ])?;
    let mut out = Vec::new();
    for b in df.collect().await? {
        let (n, k) = (strings(&b, "name")?, strings(&b, "kind")?);
        out.extend((0..n.len()).map(|i| (n.value(i).to_string(), k.value(i).to_string())));
    }
    Ok(out)
}

/// The service-graph counter (DESIGN §5; the OpenTelemetry servicegraph connector's
/// name) that `/api/dependencies` reads.
const GRAPH_CALLS: &str = "traces_service_graph_request_total";

/// How far before the window a series' last sample is looked for (its value then is
/// the baseline of the window's increase). Series are written every
/// `spanmetrics.interval`, far more often.
const BASELINE_LOOKBACK_NS: i64 = 86_400 * 1_000_000_000;

/// The calls a cumulative counter's samples (time-sorted) add in `[start_ns, end_ns]`:
/// from its last value before the window (0 for a series that began in it), a drop
/// being a restart from 0.
fn counter_increase(samples: &[(i64, f64)], start_ns: i64, end_ns: i64) -> f64 {
    let mut prev = samples
        .iter()
        .take_while(|(t, _)| *t < start_ns)
        .filter(|(_, v)| v.is_finite())
        .last()
        .map_or(0.0, |(_, v)| *v);
    let mut total = 0.0;
    for (_, v) in samples
        .iter()
        .filter(|(t, v)| (start_ns..=end_ns).contains(t) && v.is_finite())
    {
        total += if *v >= prev { v - prev } else { *v };
        prev = *v;
    }
    total
}

/// Jaeger's dependencies from the service graph: each `client → server` edge of
/// `traces_service_graph_request_total` (virtual nodes such as `user` or a database
/// included) with the calls its counters added in `[start_ns, end_ns]`, sorted.
pub async fn dependencies(
    st: &QueryState,
    tenant: &str,
    start_ns: i64,
    end_ns: i64,
) -> Result<Vec<(String, String, u64)>, QueryError> {
    let is_calls = |v: &str| v == GRAPH_CALLS;
    let synced = crate::promql::sync_metrics(st, tenant).await?;
    let series = st.storage.series().select(
        tenant,
        &[osprey_storage::series::Matcher {
            name: "__name__",
            matches: &is_calls,
        }],
    );
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let (storage, tenant) = (st.storage.clone(), tenant.to_string());
    st.blocking("dependencies", move || {
        let mut ids: Vec<u64> = series.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut samples = storage.sample_reader_with(&tenant, synced).read(
            &ids,
            start_ns.saturating_sub(BASELINE_LOOKBACK_NS),
            end_ns,
        )?;
        let mut edges: BTreeMap<(String, String), f64> = BTreeMap::new();
        for s in &series {
            let Ok(at) = ids.binary_search(&s.id) else {
                continue;
            };
            let mut points = std::mem::take(&mut samples[at]);
            if points.is_empty() {
                continue;
            }
            points.sort();
            let points: Vec<(i64, f64)> = points.iter().collect();
            *edges
                .entry((s.get("client").to_string(), s.get("server").to_string()))
                .or_default() += counter_increase(&points, start_ns, end_ns);
        }
        Ok(edges
            .into_iter()
            .map(|((client, server), calls)| (client, server, calls.round().max(0.0) as u64))
            .filter(|(_, _, calls)| *calls > 0)
            .collect())
    })
    .await
}

/// Services that sent spans, sorted.
pub async fn services(st: &QueryState, tenant: &str) -> Result<Vec<String>, QueryError> {
    let ctx = signal_session(st, tenant, Signal::Spans, None).await?;
    let df = ctx
        .table("spans")
        .await?
        .select(vec![col("service")])?
        .distinct()?
        .sort(vec![col("service").sort(true, false)])?;
    let mut out = Vec::new();
    for b in df.collect().await? {
        let s = strings(&b, "service")?;
        out.extend((0..s.len()).map(|i| s.value(i).to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::counter_increase;

    #[test]
    fn increases_count_from_the_baseline_and_through_restarts() {
        let s = [
            (1, 5.0),
            (10, 7.0),
            (20, 9.0),
            (30, 2.0),
            (40, f64::NAN),
            (50, 4.0),
        ];
        // From the value before the window: 7 → 9, restart to 2, → 4.
        assert_eq!(counter_increase(&s, 15, 60), 2.0 + 2.0 + 2.0);
        // A series that began in the window counts from 0.
        assert_eq!(counter_increase(&s, 0, 10), 7.0);
        assert_eq!(counter_increase(&s, 21, 29), 0.0);
        assert_eq!(counter_increase(&[], 0, 10), 0.0);
    }
}
