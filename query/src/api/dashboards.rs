//! Osprey's dashboards API (`/api/v1/dashboards`): list and search, get, create,
//! update with a version check, delete, and versions (list, get, restore), answered
//! in the `{"status", "data"}` envelope. Dashboards are Grafana's JSON model, stored
//! as given (`crate::dashboards`).
//!
//! A dashboard answer is `{"id", "version", "updated", "title", "tags", "builtin",
//! "dashboard"}` (`updated`: RFC 3339; `builtin`: shipped in the binary, read-only); a
//! list gives the same without `dashboard`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use osprey_auth::RequestContext;
use serde_json::{Value, json};

use super::prometheus::respond;
use crate::columns::rfc3339;
use crate::dashboards::{self, Stored, Summary};
use crate::{QueryError, QueryState};

fn summary_json(s: &Summary) -> Value {
    json!({
        "id": s.id,
        "version": s.version,
        "updated": rfc3339(s.updated_ns),
        "title": s.title,
        "tags": s.tags,
        "builtin": s.builtin,
    })
}

fn stored_json(s: &Stored) -> Value {
    let mut v = summary_json(&Summary::from(s));
    v["dashboard"] = s.dashboard.clone();
    v
}

/// The JSON body, or a 400 naming what is wrong with it.
fn body(b: Result<Json<Value>, JsonRejection>) -> Result<Value, QueryError> {
    b.map(|Json(v)| v).map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return QueryError::BadData(format!(
                "the body is larger than the dashboard limit of {} MiB",
                dashboards::MAX_BYTES >> 20
            ));
        }
        QueryError::BadData(format!("invalid JSON body: {}", e.body_text()))
    })
}

/// The dashboard of a create or update body: `{"dashboard": {...}}` (Grafana's import
/// shape), or the dashboard model itself.
fn dashboard_of(v: &mut Value) -> Value {
    match v.get_mut("dashboard") {
        Some(d) if d.is_object() => d.take(),
        _ => v.take(),
    }
}

/// `GET /api/v1/dashboards?query=…&tag=…` (tags repeat: every one must be carried).
pub(super) async fn list_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let query = q
        .iter()
        .find(|(k, _)| k == "query")
        .map_or("", |(_, v)| v.as_str());
    let tags: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.clone())
        .collect();
    let r = dashboards::list(&st, ctx.tenant(), query, &tags).await;
    respond(r.map(|l| l.iter().map(summary_json).collect::<Vec<_>>()))
}

/// `POST /api/v1/dashboards`: stores a new dashboard (version 1).
pub(super) async fn create_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    b: Result<Json<Value>, JsonRejection>,
) -> Response {
    let run = async {
        let mut v = body(b)?;
        let d = dashboard_of(&mut v);
        dashboards::create(&st, ctx.tenant(), d).await
    };
    respond(run.await.map(|s| stored_json(&s)))
}

/// `GET /api/v1/dashboards/{id}`.
pub(super) async fn get_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Response {
    respond(
        dashboards::get(&st, ctx.tenant(), &id)
            .await
            .map(|s| stored_json(&s)),
    )
}

/// `PUT /api/v1/dashboards/{id}` with `{"version": <the version edited>, "dashboard":
/// {...}}`: 409 when another save came first.
pub(super) async fn update_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(id): Path<String>,
    b: Result<Json<Value>, JsonRejection>,
) -> Response {
    let run = async {
        let mut v = body(b)?;
        let base = v.get("version").and_then(Value::as_u64).ok_or_else(|| {
            QueryError::BadData(
                "\"version\" (the version the change was made to) is required".into(),
            )
        })?;
        let d = dashboard_of(&mut v);
        dashboards::update(&st, ctx.tenant(), &id, base, d).await
    };
    respond(run.await.map(|s| stored_json(&s)))
}

/// `DELETE /api/v1/dashboards/{id}`: the dashboard and its versions.
pub(super) async fn delete_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Response {
    respond(
        dashboards::delete(&st, ctx.tenant(), &id)
            .await
            .map(|()| json!({"deleted": id})),
    )
}

/// `GET /api/v1/dashboards/{id}/versions`: the current version, then the kept ones.
pub(super) async fn versions_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Response {
    let r = dashboards::versions(&st, ctx.tenant(), &id).await;
    respond(r.map(|l| l.iter().map(summary_json).collect::<Vec<_>>()))
}

fn version_param(v: &str) -> Result<u64, QueryError> {
    v.parse().map_err(|_| {
        QueryError::BadData(format!(
            "invalid version {v:?}: expected a positive integer"
        ))
    })
}

/// `GET /api/v1/dashboards/{id}/versions/{version}`.
pub(super) async fn version_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path((id, v)): Path<(String, String)>,
) -> Response {
    let run = async { dashboards::version(&st, ctx.tenant(), &id, version_param(&v)?).await };
    respond(run.await.map(|s| stored_json(&s)))
}

/// `POST /api/v1/dashboards/{id}/versions/{version}/restore`: that version's content
/// becomes the next version.
pub(super) async fn restore_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path((id, v)): Path<(String, String)>,
    _q: Query<HashMap<String, String>>,
) -> Response {
    let run = async { dashboards::restore(&st, ctx.tenant(), &id, version_param(&v)?).await };
    respond(run.await.map(|s| stored_json(&s)))
}
