//! The alerting surfaces, each for the asking tenant (`osprey_auth::RequestContext`):
//! Prometheus' `GET /api/v1/rules` and `GET /api/v1/alerts` (shapes of 2.42,
//! `alerting/docs/semantics.md` §10), `POST /-/reload`, the notifier's delivery
//! history, Alertmanager's API v2 (`alertmanager.rs`), and the ruler configuration
//! API of Cortex and Mimir for writing rule groups (`ruler.rs`). Scopes: reads of
//! rule and alert state need `query`, rule writes and reloads `rules`, the whole
//! Alertmanager API `alerts`.

mod alertmanager;
mod model;
mod remote;
mod ruler;

pub use remote::remote_router;

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use osprey_auth::{RequestContext, Scope, require};
use serde_json::json;

use crate::manager::RuleManager;

const RULES: &str = "/api/v1/rules";
const ALERTS: &str = "/api/v1/alerts";
const HISTORY: &str = "/api/v1/alerts/history";
const RELOAD: &str = "/-/reload";
const GROUPS_OF: &str = "/config/v1/rules/{namespace}";
const GROUP: &str = "/config/v1/rules/{namespace}/{group}";
const AM_STATUS: &str = "/api/v2/status";
const AM_RECEIVERS: &str = "/api/v2/receivers";
const AM_ALERTS: &str = "/api/v2/alerts";
const AM_GROUPS: &str = "/api/v2/alerts/groups";
const AM_SILENCES: &str = "/api/v2/silences";
const AM_SILENCE: &str = "/api/v2/silence/{id}";

/// Prometheus' read API: rule and alert state (scope `query`).
pub(crate) const READ_PATHS: &[&str] = &[RULES, ALERTS, HISTORY];
/// Changing the tenant's rule groups, and Prometheus' reload (scope `rules`).
pub(crate) const WRITE_PATHS: &[&str] = &[RELOAD, GROUPS_OF, GROUP];
/// The Alertmanager API, read and written (amtool's; scope `alerts`).
pub(crate) const ALERTMANAGER_PATHS: &[&str] = &[
    AM_STATUS,
    AM_RECEIVERS,
    AM_ALERTS,
    AM_GROUPS,
    AM_SILENCES,
    AM_SILENCE,
];

/// The routes, over the manager: [`READ_PATHS`], [`WRITE_PATHS`] and
/// [`ALERTMANAGER_PATHS`] (a querier in a cluster passes the same on to the
/// compactor, `remote.rs`).
pub fn router(manager: RuleManager) -> Router {
    let reads = Router::new()
        .route(RULES, get(rules_handler))
        .route(ALERTS, get(alerts_handler))
        .route(HISTORY, get(history_handler))
        .route_layer(require(Scope::Query));
    let writes = Router::new()
        .route(RELOAD, post(reload_handler).put(reload_handler))
        .route(GROUPS_OF, post(ruler::put_group))
        .route(GROUP, axum::routing::delete(ruler::delete_group))
        .route_layer(require(Scope::Rules));
    let alertmanager = Router::new()
        .route(AM_STATUS, get(alertmanager::status))
        .route(AM_RECEIVERS, get(alertmanager::receivers))
        .route(
            AM_ALERTS,
            get(alertmanager::get_alerts).post(alertmanager::post_alerts),
        )
        .route(AM_GROUPS, get(alertmanager::alert_groups))
        .route(
            AM_SILENCES,
            get(alertmanager::get_silences).post(alertmanager::post_silence),
        )
        .route(
            AM_SILENCE,
            get(alertmanager::get_silence).delete(alertmanager::delete_silence),
        )
        .route_layer(require(Scope::Alerts));
    reads.merge(writes).merge(alertmanager).with_state(manager)
}

fn success(data: impl serde::Serialize) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

fn bad_data(message: String) -> Response {
    prometheus_error(StatusCode::BAD_REQUEST, message)
}

/// Prometheus' error shape, which every Prometheus-style alerting route answers with
/// (`errorType` `unavailable` for a 503, `bad_data` otherwise).
pub(crate) fn prometheus_error(status: StatusCode, message: String) -> Response {
    let kind = match status {
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "bad_data",
    };
    (
        status,
        Json(json!({"status": "error", "errorType": kind, "error": message})),
    )
        .into_response()
}

async fn rules_handler(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filter = match q.get("type").map(String::as_str) {
        None | Some("") => model::RuleType::Any,
        Some("alert") => model::RuleType::Alert,
        Some("record") => model::RuleType::Record,
        Some(other) => {
            return bad_data(format!(
                "invalid parameter \"type\": not supported value {other:?}"
            ));
        }
    };
    let groups = m.groups(ctx.tenant());
    success(model::RuleDiscovery::new(
        &groups,
        filter,
        m.status().last_error,
    ))
}

async fn alerts_handler(State(m): State<RuleManager>, ctx: RequestContext) -> Response {
    let groups = m.groups(ctx.tenant());
    success(model::AlertDiscovery::new(&groups))
}

/// The built-in notifier's deliveries (notified or failed, per group and receiver)
/// between `start` and `end` (RFC 3339 or Unix seconds; default: the last hour).
async fn history_handler(
    State(m): State<RuleManager>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let now = crate::notify::now_ns();
    // The name of a parameter that does not parse.
    let time = |name: &'static str, default: i64| -> Result<i64, &'static str> {
        q.get(name)
            .map_or(Ok(default), |v| parse_time(v).ok_or(name))
    };
    let (start, end) = match (time("start", now - 3_600_000_000_000), time("end", now)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(name), _) | (_, Err(name)) => {
            return bad_data(format!(
                "invalid parameter {name:?}: cannot parse {:?} to a valid timestamp",
                q.get(name).map_or("", String::as_str)
            ));
        }
    };
    let entries = m
        .notifier()
        .map(|n| n.history(ctx.tenant(), start, end))
        .unwrap_or_default();
    let transitions = m.transitions(ctx.tenant(), start, end);
    success(json!({
        "notifier": m.notifier().is_some(),
        "transitions": transitions.iter().map(model::transition_json).collect::<Vec<_>>(),
        "notifications": entries.iter().map(model::history_json).collect::<Vec<_>>(),
    }))
}

/// RFC 3339 or (fractional) Unix seconds, to ns.
fn parse_time(v: &str) -> Option<i64> {
    if let Ok(s) = v.parse::<f64>() {
        return Some((s * 1e9) as i64);
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
}

/// Rereads every rule file: 200 when the new set loaded, 500 with the problems when
/// not (the old set keeps running), as Prometheus answers its reload endpoint.
async fn reload_handler(State(m): State<RuleManager>) -> Response {
    match m.reload() {
        Ok(_) => StatusCode::OK.into_response(),
        Err(errors) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {}\n", errors.join("\n")),
        )
            .into_response(),
    }
}
