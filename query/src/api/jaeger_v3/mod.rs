//! Jaeger's API v3 over HTTP (what the current Jaeger UI calls): `/api/v3/services`,
//! `/api/v3/operations`, `/api/v3/traces` and `/api/v3/traces/{trace_id}`; traces as
//! OTLP/JSON inside grpc-gateway's `{"result": …}`, errors in v3's own shape
//! (`model.rs`); parameters in `params.rs`.

mod model;
mod params;

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;
use serde::Serialize;

use crate::traces::lookup as jaeger;
use crate::traces::search as tracesearch;
use crate::{QueryError, QueryState};
use model::{ErrorBody, ErrorDetail, Operations, Services, TracesData, Wrapped};

use super::jaeger_v1::kinded_operations;

/// Jaeger v3: the body as it is, or the error in v3's shape.
pub(super) fn jaeger_v3_respond<T: Serialize>(r: Result<T, QueryError>) -> Response {
    match r {
        Ok(body) => Json(body).into_response(),
        Err(e) => jaeger_v3_error(e),
    }
}

/// Jaeger v3's error shape.
pub(super) fn jaeger_v3_error(e: QueryError) -> Response {
    let status = e.status();
    if matches!(e, QueryError::Internal(_)) {
        tracing::error!(error = %e, "jaeger v3 query failed");
    }
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                http_code: status.as_u16(),
                message: e.to_string(),
            },
        }),
    )
        .into_response()
}

pub(super) async fn v3_services_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        jaeger::services(&st, &tenant).await
    };
    jaeger_v3_respond(run.await.map(|services| Services { services }))
}

pub(super) async fn v3_operations_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let service = q.get("service").cloned().unwrap_or_default();
        let kind = q.get("spanKind").or_else(|| q.get("span_kind"));
        kinded_operations(&st, &ctx, &service, kind).await
    };
    jaeger_v3_respond(run.await.map(|operations| Operations { operations }))
}

pub(super) async fn v3_trace_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let id = jaeger::normalize_trace_id(&id)
            .map_err(|e| QueryError::BadData(format!("malformed parameter trace_id: {e}")))?;
        let batches = jaeger::find_trace(&st, &tenant, &id).await?;
        if batches.is_empty() {
            return Err(QueryError::NotFound("trace not found".into()));
        }
        TracesData::from_batches(&batches)
    };
    jaeger_v3_respond(run.await.map(|result| Wrapped { result }))
}

pub(super) async fn v3_find_traces_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let query = params::find_traces_query(&q)?;
        let traces = tracesearch::traces(&st, &tenant, &query).await?;
        if traces.is_empty() {
            return Err(QueryError::NotFound("No traces found".into()));
        }
        let batches: Vec<_> = traces.into_iter().flat_map(|(_, b)| b).collect();
        TracesData::from_batches(&batches)
    };
    jaeger_v3_respond(run.await.map(|result| Wrapped { result }))
}
