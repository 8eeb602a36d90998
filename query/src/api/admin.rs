//! Admin and status endpoints, acting on the asking tenant only: flush, compaction,
//! storage status, and who the asker is.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;
use serde_json::{Value, json};

use crate::{QueryError, QueryState};

use super::prometheus::success;

/// `POST /api/v1/admin/flush`: flushes the asking tenant's buffered rows only.
pub(super) async fn flush_handler(State(st): State<QueryState>, ctx: RequestContext) -> Response {
    let tenant = ctx.tenant().to_string();
    match st.storage.flush_tenant(&tenant).await {
        Ok(stats) => success(stats),
        Err(e) => admin_error("flush", &e),
    }
}

/// Who a request acts as: its tenant, its token (by name) and what the token allows.
#[derive(Debug, serde::Serialize)]
pub struct WhoAmI {
    /// The tenant this request read as (the header's, else the token's first).
    pub tenant: String,
    /// Whether the server asks for tokens.
    pub authentication: bool,
    /// The token's name in the config; null with authentication off.
    pub token: Option<String>,
    /// The tenants the token may act as (its own first); null: any.
    pub tenants: Option<Vec<String>>,
    pub scopes: Vec<&'static str>,
}

impl WhoAmI {
    pub fn of(ctx: &RequestContext) -> Self {
        Self {
            tenant: ctx.tenant().to_string(),
            authentication: ctx.principal().is_some(),
            token: ctx.principal().map(str::to_string),
            tenants: ctx
                .allowed_tenants()
                .map(|l| l.into_iter().map(str::to_string).collect()),
            scopes: ctx.scope_names(),
        }
    }
}

/// `GET /api/v1/status/whoami`: the UI shows which tenant a token acts as when the
/// URL names none, and offers the token's other tenants.
pub(super) async fn whoami_handler(ctx: RequestContext) -> Response {
    success(WhoAmI::of(&ctx))
}

/// `GET /api/v1/status/storage`: the asking tenant's partitions, buffered bytes and head
/// (never another tenant's).
pub(super) async fn storage_status_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
) -> Response {
    #[derive(Default)]
    struct Agg {
        files: u64,
        rows: u64,
        bytes: u64,
    }
    let tenant = ctx.tenant().to_string();
    let mut groups: std::collections::BTreeMap<(String, i64), Agg> = Default::default();
    for f in st
        .storage
        .files()
        .into_iter()
        .filter(|f| f.tenant == tenant)
    {
        let e = groups
            .entry((f.signal.table().to_string(), f.partition_ns))
            .or_default();
        e.files += 1;
        e.rows += f.rows;
        e.bytes += f.bytes;
    }
    let partitions: Vec<Value> = groups
        .into_iter()
        .map(|((signal, partition), a)| {
            json!({
                "tenant": tenant,
                "signal": signal,
                "partition": crate::columns::rfc3339(partition),
                "files": a.files,
                "rows": a.rows,
                "bytes": a.bytes,
            })
        })
        .collect();
    let (head_bytes, head_loading) = st.storage.head_status(&tenant);
    success(json!({
        "partitions": partitions,
        "memtable_bytes": st.storage.buffered_bytes_of(&tenant),
        "head_bytes": head_bytes,
        "head_loading": head_loading,
    }))
}

/// `POST /api/v1/admin/compact[?full=true]`: merges the asking tenant's files only.
pub(super) async fn compact_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let tenant = ctx.tenant().to_string();
    let full = q.get("full").is_some_and(|v| v == "true" || v == "1");
    let result = if full {
        st.storage.compact_full(Some(&tenant)).await
    } else {
        st.storage.compact(Some(&tenant)).await
    };
    match result {
        Ok(stats) => success(stats),
        Err(e) => admin_error("compaction", &e),
    }
}

/// An admin action's storage error: a full disk is 507 with Retry-After (the action
/// works again once space is freed); anything else 500. Neither names server paths.
pub(super) fn admin_error(what: &str, e: &osprey_storage::StorageError) -> Response {
    tracing::error!(error = %e, "admin {what} failed");
    if e.is_disk_full() {
        let body = json!({
            "status": "error",
            "errorType": "unavailable",
            "error": format!("{what} failed: the server's disk is full; retry once space is freed"),
        });
        return (
            axum::http::StatusCode::INSUFFICIENT_STORAGE,
            [(
                axum::http::header::RETRY_AFTER,
                osprey_storage::DISK_FULL_RETRY_AFTER_SECS.to_string(),
            )],
            Json(body),
        )
            .into_response();
    }
    QueryError::Internal(e.client_message()).into_response()
}
