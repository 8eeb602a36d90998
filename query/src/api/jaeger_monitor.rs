//! Jaeger's Monitor tab: `/api/metrics/{latencies,calls,errors}` from spans.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;

use crate::traces::red as jaeger_metrics;
use crate::{QueryError, QueryState};

use super::{jaeger_v1::jaeger_error, now_ns};

/// Jaeger's Monitor tab: `/api/metrics/{calls,errors,latencies}`.
pub(super) async fn jaeger_metrics_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(kind): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let kind = jaeger_metrics::Kind::parse(&kind).ok_or_else(|| {
            QueryError::NotFound(format!(
                "unknown metric {kind:?}; expected calls, errors or latencies"
            ))
        })?;
        let query = jaeger_metrics::MetricsQuery::from_params(kind, &q, now_ns() / 1_000_000)?;
        jaeger_metrics::query(&st, &tenant, &query).await
    };
    // The Monitor-tab API answers with the metric family itself, errors in v1's shape.
    match run.await {
        Ok(family) => Json(family).into_response(),
        Err(e) => jaeger_error(e),
    }
}
