//! Trace search: the traces with at least one span that matches every condition
//! (service, operation, tags, duration bounds, start time range), newest first.
//!
//! Served as Jaeger's v1 `GET /api/traces?service=&operation=&tags=&minDuration=…`
//! (what Grafana's Jaeger data source calls: whole traces) and as
//! `GET /api/v1/traces/search` with the same parameters (trace summaries: root service
//! and operation, start, duration, span and error counts, services involved).
//!
//! Parameters follow Jaeger's query service: `start`/`end` in µs since the epoch (start
//! defaults to two days before `end`, end to now), `minDuration`/`maxDuration` as Go
//! durations (`1.5ms`, `2s`, `1m30s`), `tags` a JSON object and `tag=key:value`
//! repeated, `limit` (default 100). A tag matches a span attribute or a resource
//! attribute of the same value; `error=true|false`, `span.kind=server|…` and
//! `otel.status_code=OK|ERROR|UNSET` match the span's status and kind, as the Jaeger
//! trace view shows them.

//!
//! `params` reads the parameters, `scan` finds the matching traces (newest rows first,
//! through the files' page and tag indexes), `summary` sums a trace up.

mod params;
mod scan;
mod summary;

use std::collections::HashMap;

use arrow::array::RecordBatch;

use crate::traces::fetch::find_traces;
use crate::{QueryError, QueryState};
pub use params::{TraceQuery, go_duration_ns, tags_json};
pub use summary::{TraceSummary, summarize};

/// The `limit` newest of the traces found, newest first (ties by id).
pub(crate) fn newest_ids(newest: HashMap<String, i64>, limit: usize) -> Vec<String> {
    let mut ids: Vec<(String, i64)> = newest.into_iter().collect();
    ids.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ids.into_iter().take(limit).map(|(id, _)| id).collect()
}

/// Ids of the matching traces, newest first (by their newest matching span).
pub async fn trace_ids(
    st: &QueryState,
    tenant: &str,
    q: &TraceQuery,
) -> Result<Vec<String>, QueryError> {
    let tags = q
        .tags
        .iter()
        .map(|(k, v)| scan::tag_cond(k, v))
        .collect::<Result<Vec<_>, _>>()?;
    let (storage, tenant, query) = (st.storage.clone(), tenant.to_string(), q.clone());
    let newest = st
        .blocking("trace search", move || {
            scan::scan(&storage, &tenant, &query, &tags, scan::FIRST_ROUND_ROWS)
        })
        .await?;
    Ok(newest_ids(newest, q.limit))
}

/// The matching traces, whole (newest first).
pub async fn traces(
    st: &QueryState,
    tenant: &str,
    q: &TraceQuery,
) -> Result<Vec<(String, Vec<RecordBatch>)>, QueryError> {
    let ids = trace_ids(st, tenant, q).await?;
    let mut found = find_traces(st, tenant, &ids).await?;
    Ok(ids
        .into_iter()
        .map(|id| {
            let batches = found.remove(&id).unwrap_or_default();
            (id, batches)
        })
        .collect())
}
