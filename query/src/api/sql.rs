//! `POST /api/v1/sql`: read-only SQL over `logs`, `spans` and `metrics`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;
use serde_json::Value;

use crate::{QueryError, QueryState, sql};

pub(super) async fn sql_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    body: Bytes,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let req: Value = serde_json::from_slice(&body).map_err(|e| {
            QueryError::BadData(format!(
                "body must be JSON {{\"query\": \"SELECT …\"}}: {e}"
            ))
        })?;
        let q = req
            .get("query")
            .and_then(Value::as_str)
            .ok_or_else(|| QueryError::BadData("missing string field \"query\"".into()))?;
        sql::run(&st, &tenant, q).await
    };
    match run.await {
        Ok(r) => Json(r).into_response(),
        Err(e) => e.into_response(),
    }
}
