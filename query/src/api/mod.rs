//! The query HTTP API: one module per surface, each with its handlers, parameter
//! parsing and response envelope (`prometheus`, `jaeger_v1`, `jaeger_v3`,
//! `jaeger_monitor`, `logs`, `loki`, `dashboards`, `sql`, `admin`; `ops` for health, readiness and Osprey's
//! own metrics; `internal`, the node-to-node API of a cluster, on its own listener;
//! `partial`, the warnings a read carries when an ingester does not answer). Handlers take the tenant from `osprey_auth::RequestContext`, call an
//! engine of this crate and render its answer; engines never render JSON.

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::{QueryError, QueryState};
use ops::OpsState;
use osprey_auth::{Scope, require, require_by_method};

mod admin;
mod dashboards;
mod internal;
mod jaeger_monitor;
mod jaeger_v1;
mod jaeger_v3;
mod logs;
mod loki;
pub mod ops;
mod partial;
mod prometheus;
mod prometheus_json;
mod sql;

use admin::*;
pub use internal::internal_router;
use jaeger_monitor::*;
use jaeger_v1::*;
use jaeger_v3::*;
use logs::*;
use prometheus::*;
use sql::*;

/// Prometheus time parameter: RFC 3339 or (fractional) Unix seconds.
pub fn parse_time(name: &str, s: &str) -> Result<i64, QueryError> {
    if let Some(ns) = parse_decimal_seconds(s) {
        return Ok(ns);
    }
    if let Ok(f) = s.parse::<f64>()
        && f.is_finite()
    {
        return Ok((f * 1e9).round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|d| d.timestamp_nanos_opt())
        .ok_or_else(|| {
            QueryError::BadData(format!(
                "invalid parameter {name:?}: cannot parse {s:?} to a valid timestamp"
            ))
        })
}

/// `1700000000.123` as exact nanoseconds (a float would be off by up to ~100 ns, enough
/// to miss a sample stamped at exactly that millisecond).
pub(super) fn parse_decimal_seconds(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
    {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let frac_ns: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let ns = secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)?;
    Some(if neg { -ns } else { ns })
}

pub(super) fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

pub(super) async fn not_found() -> Response {
    QueryError::NotFound("no such endpoint".into()).into_response()
}

/// Liveness and readiness: answered without credentials (orchestrators' probes).
pub fn probes_router(ops_state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .with_state(ops_state)
}

/// Every query and admin route of the API port, and Osprey's own metrics: reads need
/// the `query` scope, dashboard changes `rules`, admin, status and `/metrics` `admin`.
pub fn router(st: QueryState, ops_state: OpsState) -> Router {
    let admin = admin_router(st.clone(), ops_state);
    let slots = axum::middleware::from_fn_with_state(st.clone(), query_slot);
    // Live tails stream until the client leaves: they hold no query slot.
    let tails = Router::new()
        .route("/api/v1/logs/tail", get(logs_tail_handler))
        .route("/loki/api/v1/tail", get(loki::tail_handler));
    reads()
        .route_layer(slots)
        .route_layer(axum::middleware::from_fn(partial::partial_answers))
        .merge(tails)
        .route_layer(require(Scope::Query))
        .merge(dashboards_routes().route_layer(require_by_method(Scope::Query, Scope::Rules)))
        .with_state(st)
        .merge(admin)
}

/// The admin routes (flush, compaction, storage status) and Osprey's own `/metrics`,
/// all needing the `admin` scope: part of [`router`], and alone on an ingester.
pub fn admin_router(st: QueryState, ops_state: OpsState) -> Router {
    Router::new()
        .route("/api/v1/admin/flush", post(flush_handler))
        .route("/api/v1/admin/compact", post(compact_handler))
        .route("/api/v1/status/storage", get(storage_status_handler))
        .route_layer(require(Scope::Admin))
        .with_state(st)
        .merge(
            Router::new()
                .route("/metrics", get(ops::metrics))
                .route_layer(require(Scope::Admin))
                .with_state(ops_state),
        )
}

/// Holds one of the tenant's concurrent-query slots (`limits.max_concurrent_queries`)
/// while the query runs; without one in time, 503 with Retry-After.
async fn query_slot(
    axum::extract::State(st): axum::extract::State<QueryState>,
    ctx: osprey_auth::RequestContext,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match st.limiter.query_slot(ctx.tenant()).await {
        Ok(slot) => {
            let resp = next.run(req).await;
            drop(slot);
            resp
        }
        Err(e) => {
            let mut resp = QueryError::Unavailable(e.to_string()).into_response();
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(e.retry_after()),
            );
            resp
        }
    }
}

fn dashboards_routes() -> Router<QueryState> {
    Router::new()
        .route(
            "/api/v1/dashboards",
            get(dashboards::list_handler).post(dashboards::create_handler),
        )
        .route(
            "/api/v1/dashboards/{id}",
            get(dashboards::get_handler)
                .put(dashboards::update_handler)
                .delete(dashboards::delete_handler),
        )
        .route(
            "/api/v1/dashboards/{id}/versions",
            get(dashboards::versions_handler),
        )
        .route(
            "/api/v1/dashboards/{id}/versions/{version}",
            get(dashboards::version_handler),
        )
        .route(
            "/api/v1/dashboards/{id}/versions/{version}/restore",
            post(dashboards::restore_handler),
        )
        // The body a dashboard of the largest size takes (the `{"dashboard": …}`
        // wrapper and a version around it), instead of axum's default 2 MB.
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::dashboards::MAX_BYTES + 64 * 1024,
        ))
}

/// Every read of the query surfaces (Prometheus, Loki, Jaeger, logs, SQL).
fn reads() -> Router<QueryState> {
    Router::new()
        .route("/api/metrics/{kind}", get(jaeger_metrics_handler))
        .route(
            "/api/v1/query",
            get(prom_query_handler).post(prom_query_handler),
        )
        .route(
            "/api/v1/query_range",
            get(prom_query_range_handler).post(prom_query_range_handler),
        )
        .route(
            "/api/v1/query_exemplars",
            get(prom_exemplars_handler).post(prom_exemplars_handler),
        )
        .route("/api/v1/labels", get(labels_handler).post(labels_handler))
        .route("/api/v1/label/{name}/values", get(label_values_handler))
        .route("/api/v1/series", get(series_handler).post(series_handler))
        .route("/api/v1/metadata", get(metadata_handler))
        .route("/api/v1/sql", post(sql_handler))
        .route("/api/traces", get(traces_search_handler))
        .route("/api/dependencies", get(dependencies_handler))
        .route("/api/traces/{trace_id}", get(trace_handler))
        .route("/api/v1/traces/search", get(trace_summaries_handler))
        .route("/api/v3/services", get(v3_services_handler))
        .route("/api/v3/operations", get(v3_operations_handler))
        .route("/api/v3/traces", get(v3_find_traces_handler))
        .route("/api/v3/traces/{trace_id}", get(v3_trace_handler))
        .route("/api/services", get(services_handler))
        .route("/api/operations", get(kind_operations_handler))
        .route(
            "/api/services/{service}/operations",
            get(operations_handler),
        )
        .route("/api/v1/status/buildinfo", get(buildinfo_handler))
        .route("/api/v1/status/whoami", get(whoami_handler))
        .route("/api/v1/logs/search", get(logs_search_handler))
        .route("/api/v1/logs/histogram", get(logs_histogram_handler))
        .route("/api/v1/logs/fields", get(logs_fields_handler))
        .route("/api/v1/logs/patterns", get(logs_patterns_handler))
        .route(
            "/loki/api/v1/query_range",
            get(loki::query_range_handler).post(loki::query_range_handler),
        )
        .route(
            "/loki/api/v1/query",
            get(loki::query_handler).post(loki::query_handler),
        )
        .route("/loki/api/v1/labels", get(loki::labels_handler))
        .route(
            "/loki/api/v1/label/{name}/values",
            get(loki::label_values_handler),
        )
        .route(
            "/loki/api/v1/series",
            get(loki::series_handler).post(loki::series_handler),
        )
        .route(
            "/loki/api/v1/index/stats",
            get(loki::index_stats_handler).post(loki::index_stats_handler),
        )
        .route(
            "/loki/api/v1/index/volume",
            get(loki::volume_handler).post(loki::volume_handler),
        )
        .route(
            "/loki/api/v1/index/volume_range",
            get(loki::volume_range_handler).post(loki::volume_range_handler),
        )
        .route(
            "/loki/api/v1/detected_fields",
            get(loki::detected_fields_handler).post(loki::detected_fields_handler),
        )
        .route(
            "/loki/api/v1/detected_field/{name}/values",
            get(loki::detected_field_values_handler).post(loki::detected_field_values_handler),
        )
        .route(
            "/loki/api/v1/detected_labels",
            get(loki::detected_labels_handler).post(loki::detected_labels_handler),
        )
        .route(
            "/loki/api/v1/patterns",
            get(loki::patterns_handler).post(loki::patterns_handler),
        )
        .route(
            "/loki/api/v1/drilldown-limits",
            get(loki::drilldown_limits_handler),
        )
        .route(
            "/loki/api/v1/format_query",
            get(loki::format_query_handler).post(loki::format_query_handler),
        )
        .route(
            "/loki/api/v1/status/buildinfo",
            get(loki::buildinfo_handler),
        )
        .route("/api/{*rest}", get(not_found).post(not_found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_exactly() {
        assert_eq!(
            parse_time("t", "1795307042.530").unwrap(),
            1_795_307_042_530_000_000
        );
        assert_eq!(
            parse_time("t", "1795307042").unwrap(),
            1_795_307_042_000_000_000
        );
        assert_eq!(parse_time("t", "-1.5").unwrap(), -1_500_000_000);
        assert_eq!(parse_time("t", "1e3").unwrap(), 1_000_000_000_000);
        assert_eq!(
            parse_time("t", "2026-11-22T00:00:00Z").unwrap(),
            1_795_305_600_000_000_000
        );
        assert!(parse_time("t", "soon").is_err());
    }
}
