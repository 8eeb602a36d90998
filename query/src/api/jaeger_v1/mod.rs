//! Jaeger's v1 JSON API (what Grafana's Jaeger data source calls): traces by id and by search, services, operations, dependencies, and Osprey's trace summaries; Jaeger's envelope (`{"data","total","limit","offset","errors"}`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;

mod model;

use serde::Serialize;

use crate::traces::lookup as jaeger;
use crate::traces::search::{self as tracesearch, TraceQuery};
use crate::{QueryError, QueryState, traces};
use model::{Envelope, ErrorEntry};

use super::{now_ns, prometheus::respond};

/// Jaeger v1: `data` in Jaeger's envelope (`total` 0, as Jaeger answers traces and
/// dependencies), or the error in its shape.
pub(super) fn jaeger_respond<T: Serialize>(r: Result<T, QueryError>) -> Response {
    match r {
        Ok(data) => Json(Envelope::new(data, 0, None)).into_response(),
        Err(e) => jaeger_error(e),
    }
}

/// Jaeger v1 for a list endpoint (services, operations): `total` is its length.
pub(super) fn jaeger_respond_list<T: Serialize>(r: Result<Vec<T>, QueryError>) -> Response {
    match r {
        Ok(data) => {
            let total = data.len();
            Json(Envelope::new(data, total, None)).into_response()
        }
        Err(e) => jaeger_error(e),
    }
}

/// One edge of `/api/dependencies`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    parent: String,
    child: String,
    call_count: u64,
}

pub(super) async fn trace_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let id = jaeger::normalize_trace_id(&id)?;
        let batches = jaeger::find_trace(&st, &tenant, &id).await?;
        if batches.is_empty() {
            return Err(QueryError::NotFound("trace not found".into()));
        }
        model::trace(&id, &batches)
    };
    jaeger_respond(run.await.map(|trace| [trace]))
}

/// The traces a search with Jaeger's parameters finds, newest first, and the ids asked
/// for but not found. As in Jaeger's query service, `traceID` (repeatable) asks for
/// those traces instead, whatever the other parameters say.
pub(super) async fn found_traces(
    st: &QueryState,
    ctx: &RequestContext,
    q: &[(String, String)],
) -> Result<(Vec<(String, Vec<arrow::array::RecordBatch>)>, Vec<String>), QueryError> {
    let tenant = ctx.tenant().to_string();
    let ids = q
        .iter()
        .filter(|(k, v)| k == "traceID" && !v.is_empty())
        .map(|(_, v)| jaeger::normalize_trace_id(v))
        .collect::<Result<Vec<_>, _>>()?;
    if !ids.is_empty() {
        let mut found = crate::traces::fetch::find_traces(st, &tenant, &ids).await?;
        let mut seen = std::collections::HashSet::new();
        let (mut traces, mut missing) = (Vec::new(), Vec::new());
        for id in ids.into_iter().filter(|id| seen.insert(id.clone())) {
            match found.remove(&id).filter(|b| !b.is_empty()) {
                Some(b) => traces.push((id, b)),
                None => missing.push(id),
            }
        }
        return Ok((traces, missing));
    }
    let query = TraceQuery::from_params(q, now_ns())?;
    Ok((tracesearch::traces(st, &tenant, &query).await?, Vec::new()))
}

/// Jaeger's trace search: whole traces, newest first.
pub(super) async fn traces_search_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let run = async {
        let (traces, missing) = found_traces(&st, &ctx, &q).await?;
        let data = traces
            .iter()
            .map(|(id, batches)| model::trace(id, batches))
            .collect::<Result<Vec<_>, _>>()?;
        // Ids asked for and not found: Jaeger lists them as errors beside the data.
        let errors = (!missing.is_empty()).then(|| {
            missing
                .into_iter()
                .map(|id| ErrorEntry {
                    code: None,
                    msg: "trace not found".into(),
                    trace_id: Some(id),
                })
                .collect()
        });
        Ok(Envelope::new(data, 0, errors))
    };
    match run.await {
        Ok(body) => Json(body).into_response(),
        Err(e) => jaeger_error(e),
    }
}

/// Trace search with summaries (Jaeger's parameters, Osprey's envelope).
pub(super) async fn trace_summaries_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let run = async {
        found_traces(&st, &ctx, &q)
            .await?
            .0
            .iter()
            .map(|(id, batches)| tracesearch::summarize(id, batches))
            .collect::<Result<Vec<_>, _>>()
    };
    #[derive(Serialize)]
    struct Summaries<T> {
        traces: T,
    }
    respond(run.await.map(|traces| Summaries { traces }))
}

/// Jaeger's `/api/dependencies?endTs=&lookback=` (ms; defaults now and 24 h).
pub(super) async fn dependencies_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let ms = |name: &str, default: i64| -> Result<i64, QueryError> {
            match q.get(name).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v.parse::<i64>().map_err(|e| {
                    QueryError::BadData(format!("unable to parse param '{name}': {e}"))
                }),
            }
        };
        let end_ms = ms("endTs", now_ns() / 1_000_000)?;
        let lookback_ms = ms("lookback", 86_400_000)?;
        let end_ns = end_ms.saturating_mul(1_000_000);
        let start_ns = end_ns.saturating_sub(lookback_ms.saturating_mul(1_000_000));
        let mut deps = jaeger::dependencies(&st, &tenant, start_ns, end_ns).await?;
        // `service`: only the edges it is on, either side (as Jaeger filters).
        if let Some(s) = q.get("service").filter(|s| !s.is_empty()) {
            deps.retain(|(parent, child, _)| parent == s || child == s);
        }
        Ok(deps)
    };
    jaeger_respond(run.await.map(|deps| {
        deps.into_iter()
            .map(|(parent, child, call_count)| Dependency {
                parent,
                child,
                call_count,
            })
            .collect::<Vec<_>>()
    }))
}

pub(super) fn jaeger_error(e: QueryError) -> Response {
    let status = e.status();
    if matches!(e, QueryError::Internal(_)) {
        tracing::error!(error = %e, "jaeger query failed");
    }
    let errors = vec![ErrorEntry {
        code: Some(status.as_u16()),
        msg: e.to_string(),
        trace_id: None,
    }];
    (status, Json(Envelope::new((), 0, Some(errors)))).into_response()
}

pub(super) async fn services_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        jaeger::services(&st, &tenant).await
    };
    jaeger_respond_list(run.await.map(|data| data.into_iter().collect::<Vec<_>>()))
}

/// Jaeger's `/api/operations?service=&spanKind=`: the service's span names with their
/// kinds (what the Jaeger UI's deep dependency view asks).
pub(super) async fn kind_operations_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let service = q
            .get("service")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| QueryError::BadData("parameter 'service' is required".into()))?;
        kinded_operations(&st, &ctx, service, q.get("spanKind")).await
    };
    jaeger_respond_list(run.await)
}

pub(super) async fn operations_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(service): Path<String>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        jaeger::operations(&st, &tenant, &service).await
    };
    jaeger_respond_list(run.await.map(|data| data.into_iter().collect::<Vec<_>>()))
}

/// An operation with its span kind, as v1's `/api/operations` and v3's list them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Operation {
    name: String,
    span_kind: &'static str,
}

/// A service's operations with their span kinds, of one Jaeger span kind when `kind`
/// names one: v1's `/api/operations` and v3's.
pub(super) async fn kinded_operations(
    st: &QueryState,
    ctx: &RequestContext,
    service: &str,
    kind: Option<&String>,
) -> Result<Vec<Operation>, QueryError> {
    let tenant = ctx.tenant().to_string();
    let kind = match kind {
        Some(k) if !k.is_empty() => Some(traces::stored_kind(k)?),
        _ => None,
    };
    Ok(jaeger::operation_kinds(st, &tenant, service, kind)
        .await?
        .into_iter()
        .map(|(name, kind)| Operation {
            span_kind: traces::kind_name(&kind),
            name,
        })
        .collect())
}
