//! The Loki endpoints Grafana's Logs Drilldown app reads besides the query API:
//! `detected_fields`, `detected_field/{name}/values`, `detected_labels`, `patterns` and
//! `drilldown-limits`, with Loki 3's parameters and bare answers (no envelope, `{}`
//! when nothing was found; `patterns` alone has `{"status", "data"}`). The engines are
//! `crate::logs::detected` and `crate::logs::patterns`.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;
use osprey_logql::logql::{LogExpr, Query as LogqlQuery};
use serde_json::{Value as Json, json};

use super::params::{self, MAX_ENTRIES, Params};
use super::{merged, parse, respond, selector};
use crate::api::now_ns;
use crate::logs::detected::{self, Limits};
use crate::logs::filter::Language;
use crate::logs::patterns;
use crate::logs::stats::StatsParams;
use crate::{QueryError, QueryState};

/// Loki's pattern pruning: patterns seen fewer times are dropped, at most this many kept.
const MIN_PATTERN_LINES: u64 = 30;
const MAX_PATTERNS: usize = 300;
/// Patterns count lines in buckets of at least 10 s, as Loki's pattern ingester.
const MIN_PATTERN_STEP_NS: i64 = 10_000_000_000;

/// A log query (selector and pipeline) for the detected endpoints.
fn log_query(p: &Params) -> Result<LogExpr, QueryError> {
    match parse(p.get("query").map_or("", String::as_str))? {
        LogqlQuery::Log(l) => Ok(l),
        LogqlQuery::Metric(_) => Err(QueryError::BadData(
            "only log queries are supported: give a stream selector and its pipeline".into(),
        )),
    }
}

/// The range, the lines to sample (`line_limit`, default 100) and the items to keep
/// (`limit`, else `field_limit`, default 1000).
fn detected_params(p: &Params) -> Result<((i64, i64), Limits), QueryError> {
    let (start, end) = params::bounds(p, now_ns())?;
    if end < start {
        return Err(QueryError::BadData(
            "end timestamp must not be before or equal to start time".into(),
        ));
    }
    let lines = params::positive(p, "line_limit", 100)?;
    if lines > MAX_ENTRIES {
        return Err(QueryError::BadData(format!(
            "max entries limit per query exceeded, limit > max_entries_limit_per_query ({lines} > {MAX_ENTRIES})"
        )));
    }
    let name = if p.get("limit").is_some_and(|v| !v.is_empty()) {
        "limit"
    } else {
        "field_limit"
    };
    let items = params::positive(p, name, 1000)?;
    if p.contains_key("step") {
        params::step(p, start, end)?;
    }
    Ok(((start, end), Limits { lines, items }))
}

/// `GET|POST /loki/api/v1/detected_fields`.
pub(crate) async fn fields_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Params>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = merged(q, form);
    let run = async {
        let log = log_query(&p)?;
        let (range, limits) = detected_params(&p)?;
        let found = detected::fields(&st, ctx.tenant(), &log, range, limits).await?;
        if found.is_empty() {
            return Ok(axum::Json(json!({})).into_response());
        }
        let fields: Vec<Json> = found
            .into_iter()
            .map(|f| {
                let mut o = json!({
                    "label": f.label,
                    "type": f.kind,
                    "cardinality": f.cardinality,
                    "parsers": if f.parsers.is_empty() { Json::Null } else { json!(f.parsers) },
                });
                if let Some(path) = f.json_path {
                    o["jsonPath"] = json!(path);
                }
                o
            })
            .collect();
        Ok(axum::Json(json!({"fields": fields, "limit": limits.items})).into_response())
    };
    respond(run.await)
}

/// `GET|POST /loki/api/v1/detected_field/{name}/values`.
pub(crate) async fn field_values_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(name): Path<String>,
    Query(q): Query<Params>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = merged(q, form);
    let run = async {
        let log = log_query(&p)?;
        let (range, limits) = detected_params(&p)?;
        let values = detected::field_values(&st, ctx.tenant(), &log, range, &name, limits).await?;
        if values.is_empty() {
            return Ok(axum::Json(json!({})).into_response());
        }
        Ok(axum::Json(json!({"values": values, "limit": limits.items})).into_response())
    };
    respond(run.await)
}

/// `GET|POST /loki/api/v1/detected_labels`: `query` is an optional stream selector.
pub(crate) async fn labels_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Params>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = merged(q, form);
    let run = async {
        let range = params::bounds(&p, now_ns())?;
        let sel = match p
            .get("query")
            .map(|q| q.trim())
            .filter(|q| !q.is_empty() && *q != "{}")
        {
            Some(q) => Some(selector(q)?),
            None => None,
        };
        let found = detected::labels(&st, ctx.tenant(), sel, range).await?;
        if found.is_empty() {
            return Ok(axum::Json(json!({})).into_response());
        }
        let labels: Vec<Json> = found
            .into_iter()
            .map(|(label, cardinality)| json!({"label": label, "cardinality": cardinality}))
            .collect();
        Ok(axum::Json(json!({"detectedLabels": labels})).into_response())
    };
    respond(run.await)
}

/// `GET|POST /loki/api/v1/patterns`: the selected lines' templates (wildcards `<_>`)
/// with their line counts per `step` (at least 10 s), as `[seconds, count]` pairs from
/// a template's first bucket to its last.
pub(crate) async fn patterns_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Params>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = merged(q, form);
    let run = async {
        let query = p.get("query").cloned().unwrap_or_default();
        selector(&query)?;
        let (start, end) = params::bounds(&p, now_ns())?;
        let step = params::step(&p, start, end)?.max(MIN_PATTERN_STEP_NS);
        if (end - start) / step > 11_000 {
            return Err(QueryError::BadData(
                "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter".into(),
            ));
        }
        let sp = StatsParams {
            query,
            language: Language::Logql,
            service: None,
            start_ns: Some(start),
            end_ns: Some(end),
        };
        let step_ms = step / 1_000_000;
        let found = patterns::patterns(&st, ctx.tenant(), &sp, usize::MAX, Some(step_ms)).await?;
        let data: Vec<Json> = found
            .patterns
            .iter()
            .filter(|t| t.count >= MIN_PATTERN_LINES)
            .take(MAX_PATTERNS)
            .map(|t| {
                let first = t.counts.iter().position(|c| *c > 0).unwrap_or(0);
                let last = t.counts.iter().rposition(|c| *c > 0).unwrap_or(0);
                let samples: Vec<Json> = (first..=last)
                    .filter_map(|i| {
                        let ts = (found.start_ns + i as i64 * step) / 1_000_000_000;
                        t.counts.get(i).map(|c| json!([ts, c]))
                    })
                    .collect();
                json!({"pattern": t.pattern.replace("<*>", "<_>"), "samples": samples})
            })
            .collect();
        Ok(axum::Json(json!({"status": "success", "data": data})).into_response())
    };
    respond(run.await)
}

/// `GET /loki/api/v1/drilldown-limits`: what Logs Drilldown checks before it shows its
/// tabs (patterns on; level discovery on; the query limits Osprey enforces).
pub(crate) async fn limits_handler() -> Response {
    axum::Json(json!({
        "limits": {
            "discover_log_levels": true,
            "discover_service_name": ["service", "app", "job"],
            "log_level_fields": ["level", "LEVEL", "Level", "severity", "SEVERITY", "Severity", "lvl", "LVL", "Lvl"],
            "max_entries_limit_per_query": MAX_ENTRIES,
            "max_query_series": 500,
            "volume_enabled": true,
            "pattern_persistence_enabled": false,
        },
        "pattern_ingester_enabled": true,
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}
