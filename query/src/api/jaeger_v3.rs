//! Jaeger's API v3 (what the Jaeger UI calls): services, operations, traces as OTLP/JSON; v3's error shape (`{"error":{"httpCode","message"}}`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;
use serde_json::{Value, json};

use crate::traces::lookup as jaeger;
use crate::traces::search as tracesearch;
use crate::{QueryError, QueryState, jaeger_v3};

use super::jaeger_v1::kinded_operations;

/// Jaeger v3: the body as it is, or the error in v3's shape.
pub(super) fn jaeger_v3_respond(r: Result<Value, QueryError>) -> Response {
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
        Json(jaeger_v3::error_body(status.as_u16(), &e.to_string())),
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
    jaeger_v3_respond(run.await.map(|s| json!({ "services": s })))
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
    jaeger_v3_respond(run.await.map(|ops| json!({ "operations": ops })))
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
        jaeger_v3::traces_data(&batches)
    };
    jaeger_v3_respond(run.await.map(|data| json!({ "result": data })))
}

pub(super) async fn v3_find_traces_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let query = jaeger_v3::find_traces_query(&q)?;
        let traces = tracesearch::traces(&st, &tenant, &query).await?;
        if traces.is_empty() {
            return Err(QueryError::NotFound("No traces found".into()));
        }
        let batches: Vec<_> = traces.into_iter().flat_map(|(_, b)| b).collect();
        jaeger_v3::traces_data(&batches)
    };
    jaeger_v3_respond(run.await.map(|data| json!({ "result": data })))
}
