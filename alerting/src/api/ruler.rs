//! Writing rule groups, as Cortex's and Mimir's ruler configuration API does:
//! `POST /config/v1/rules/{namespace}` with one rule group in YAML (202 when it is
//! stored and loaded), `DELETE /config/v1/rules/{namespace}/{group}` (202). The group
//! goes into the asking tenant's rules directory (`rules::write`); a group that does
//! not check, or a set that does not load, is refused with the reason (400) and
//! nothing changes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;
use serde_json::json;

use crate::error::AlertingError;
use crate::manager::RuleManager;

fn answer(r: Result<(), AlertingError>) -> Response {
    let (status, kind) = match &r {
        Ok(()) => {
            return (
                StatusCode::ACCEPTED,
                Json(json!({"status": "success", "data": null})),
            )
                .into_response();
        }
        Err(e) => (
            e.status(),
            match e.status() {
                StatusCode::BAD_REQUEST => "bad_data",
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::INSUFFICIENT_STORAGE => "unavailable",
                _ => "internal",
            },
        ),
    };
    if status.is_server_error()
        && let Err(e) = &r
    {
        tracing::error!(error = %e, "rule group write failed");
    }
    let message = r.err().map(|e| e.client_message()).unwrap_or_default();
    (
        status,
        Json(json!({"status": "error", "errorType": kind, "error": message})),
    )
        .into_response()
}

async fn blocking(
    f: impl FnOnce() -> Result<(), AlertingError> + Send + 'static,
) -> Result<(), AlertingError> {
    // A write that did not finish is ours, not the asker's: a 500.
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(AlertingError::RuleFile {
            file: "rule group write".into(),
            message: e.to_string(),
        })
    })
}

/// `POST /config/v1/rules/{namespace}`: the body is one rule group (YAML).
pub(super) async fn put_group(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Path(namespace): Path<String>,
    body: String,
) -> Response {
    let tenant = ctx.tenant().to_string();
    answer(blocking(move || m.put_group(&tenant, &namespace, &body)).await)
}

/// `DELETE /config/v1/rules/{namespace}/{group}`.
pub(super) async fn delete_group(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Path((namespace, group)): Path<(String, String)>,
) -> Response {
    let tenant = ctx.tenant().to_string();
    answer(blocking(move || m.delete_group(&tenant, &namespace, &group)).await)
}
