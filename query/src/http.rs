//! The query HTTP API: routes, parameter parsing, response shapes.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use osprey_auth::RequestContext;
use serde_json::{Value, json};

use crate::logsearch::SearchParams;
use crate::ops::{self, OpsState};
use crate::tracesearch::{self, TraceQuery};
use crate::{
    QueryError, QueryState, jaeger, jaeger_metrics, jaeger_v3, logsearch, logstats, logtail,
    patterns, promql, sql,
};

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
fn parse_decimal_seconds(s: &str) -> Option<i64> {
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

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

fn success(data: impl serde::Serialize) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

/// Osprey's and Prometheus' envelope for a result, or the error in Prometheus' shape.
fn respond<T: serde::Serialize>(r: Result<T, QueryError>) -> Response {
    match r {
        Ok(data) => success(data),
        Err(e) => e.into_response(),
    }
}

/// Jaeger v1: `data` in Jaeger's envelope (`total` 0, as Jaeger answers traces and
/// dependencies), or the error in its shape.
fn jaeger_respond(r: Result<Value, QueryError>) -> Response {
    match r {
        Ok(data) => Json(jaeger::envelope(data, 0, None)).into_response(),
        Err(e) => jaeger_error(e),
    }
}

/// Jaeger v1 for a list endpoint (services, operations): `total` is its length.
fn jaeger_respond_list(r: Result<Vec<Value>, QueryError>) -> Response {
    match r {
        Ok(data) => Json(jaeger::envelope(json!(data), data.len(), None)).into_response(),
        Err(e) => jaeger_error(e),
    }
}

/// Jaeger v3: the body as it is, or the error in v3's shape.
fn jaeger_v3_respond(r: Result<Value, QueryError>) -> Response {
    match r {
        Ok(body) => Json(body).into_response(),
        Err(e) => jaeger_v3_error(e),
    }
}

async fn sql_handler(State(st): State<QueryState>, ctx: RequestContext, body: Bytes) -> Response {
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

async fn trace_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let id = jaeger::normalize_trace_id(&id)?;
        let batches = jaeger::find_trace(&st, &tenant, &id).await?;
        if batches.is_empty() {
            return Err(QueryError::NotFound("trace not found".into()));
        }
        jaeger::trace_json(&id, &batches)
    };
    jaeger_respond(run.await.map(|trace| json!([trace])))
}

/// The traces a search with Jaeger's parameters finds, newest first, and the ids asked
/// for but not found. As in Jaeger's query service, `traceID` (repeatable) asks for
/// those traces instead, whatever the other parameters say.
async fn found_traces(
    st: &QueryState,
    ctx: &RequestContext,
    q: &[(String, String)],
) -> Result<(Vec<(String, Vec<arrow::array::RecordBatch>)>, Vec<String>), QueryError> {
    let tenant = ctx.tenant().to_string();
    let ids = q
        .iter()
        .filter(|(k, v)| k == "traceID" && !v.is_empty())
        .map(|(_, v)| jaeger::normalize_trace_id(v))
        .collect::<Result<Vec<_>, _>>()?;
    if !ids.is_empty() {
        let mut found = crate::tracefetch::find_traces(st, &tenant, &ids).await?;
        let mut seen = std::collections::HashSet::new();
        let (mut traces, mut missing) = (Vec::new(), Vec::new());
        for id in ids.into_iter().filter(|id| seen.insert(id.clone())) {
            match found.remove(&id).filter(|b| !b.is_empty()) {
                Some(b) => traces.push((id, b)),
                None => missing.push(id),
            }
        }
        return Ok((traces, missing));
    }
    let query = TraceQuery::from_params(q, now_ns())?;
    Ok((tracesearch::traces(st, &tenant, &query).await?, Vec::new()))
}

/// Jaeger's trace search: whole traces, newest first.
async fn traces_search_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let run = async {
        let (traces, missing) = found_traces(&st, &ctx, &q).await?;
        let data = traces
            .iter()
            .map(|(id, batches)| jaeger::trace_json(id, batches))
            .collect::<Result<Vec<_>, _>>()?;
        // Ids asked for and not found: Jaeger lists them as errors beside the data.
        let errors = (!missing.is_empty()).then(|| {
            json!(
                missing
                    .iter()
                    .map(|id| json!({"msg": "trace not found", "traceID": id}))
                    .collect::<Vec<_>>()
            )
        });
        Ok(jaeger::envelope(json!(data), 0, errors))
    };
    match run.await {
        Ok(body) => Json(body).into_response(),
        Err(e) => jaeger_error(e),
    }
}

/// Trace search with summaries (Jaeger's parameters, Osprey's envelope).
async fn trace_summaries_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let run = async {
        found_traces(&st, &ctx, &q)
            .await?
            .0
            .iter()
            .map(|(id, batches)| tracesearch::summarize(id, batches))
            .collect::<Result<Vec<_>, _>>()
    };
    respond(run.await.map(|traces| json!({ "traces": traces })))
}

/// Jaeger's `/api/dependencies?endTs=&lookback=` (ms; defaults now and 24 h).
async fn dependencies_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let ms = |name: &str, default: i64| -> Result<i64, QueryError> {
            match q.get(name).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v.parse::<i64>().map_err(|e| {
                    QueryError::BadData(format!("unable to parse param '{name}': {e}"))
                }),
            }
        };
        let end_ms = ms("endTs", now_ns() / 1_000_000)?;
        let lookback_ms = ms("lookback", 86_400_000)?;
        let end_ns = end_ms.saturating_mul(1_000_000);
        let start_ns = end_ns.saturating_sub(lookback_ms.saturating_mul(1_000_000));
        let mut deps = jaeger::dependencies(&st, &tenant, start_ns, end_ns).await?;
        // `service`: only the edges it is on, either side (as Jaeger filters).
        if let Some(s) = q.get("service").filter(|s| !s.is_empty()) {
            deps.retain(|(parent, child, _)| parent == s || child == s);
        }
        Ok(deps)
    };
    jaeger_respond(run.await.map(|deps| {
        deps.iter()
            .map(|(p, c, n)| json!({"parent": p, "child": c, "callCount": n}))
            .collect()
    }))
}

/// Jaeger's Monitor tab: `/api/metrics/{calls,errors,latencies}`.
async fn jaeger_metrics_handler(
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

/// Jaeger v3's error shape.
fn jaeger_v3_error(e: QueryError) -> Response {
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

async fn v3_services_handler(State(st): State<QueryState>, ctx: RequestContext) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        jaeger::services(&st, &tenant).await
    };
    jaeger_v3_respond(run.await.map(|s| json!({ "services": s })))
}

async fn v3_operations_handler(
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

/// A service's operations with their span kinds (`{"name", "spanKind"}`), of one
/// Jaeger span kind when `kind` names one: v1's `/api/operations` and v3's.
async fn kinded_operations(
    st: &QueryState,
    ctx: &RequestContext,
    service: &str,
    kind: Option<&String>,
) -> Result<Vec<Value>, QueryError> {
    let tenant = ctx.tenant().to_string();
    let kind = match kind {
        Some(k) if !k.is_empty() => Some(jaeger_v3::stored_kind(k)?),
        _ => None,
    };
    Ok(jaeger::operation_kinds(st, &tenant, service, kind)
        .await?
        .iter()
        .map(|(name, kind)| json!({"name": name, "spanKind": jaeger_v3::kind_name(kind)}))
        .collect())
}

async fn v3_trace_handler(
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

async fn v3_find_traces_handler(
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

fn jaeger_error(e: QueryError) -> Response {
    let status = e.status();
    if matches!(e, QueryError::Internal(_)) {
        tracing::error!(error = %e, "jaeger query failed");
    }
    (
        status,
        Json(jaeger::envelope(
            Value::Null,
            0,
            Some(json!([{"code": status.as_u16(), "msg": e.to_string()}])),
        )),
    )
        .into_response()
}

async fn services_handler(State(st): State<QueryState>, ctx: RequestContext) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        jaeger::services(&st, &tenant).await
    };
    jaeger_respond_list(
        run.await
            .map(|data| data.into_iter().map(Value::from).collect()),
    )
}

/// Jaeger's `/api/operations?service=&spanKind=`: the service's span names with their
/// kinds (what the Jaeger UI's deep dependency view asks).
async fn kind_operations_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let service = q
            .get("service")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| QueryError::BadData("parameter 'service' is required".into()))?;
        kinded_operations(&st, &ctx, service, q.get("spanKind")).await
    };
    jaeger_respond_list(run.await)
}

async fn operations_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(service): Path<String>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        jaeger::operations(&st, &tenant, &service).await
    };
    jaeger_respond_list(
        run.await
            .map(|data| data.into_iter().map(Value::from).collect()),
    )
}

/// What Grafana's Prometheus data source asks to learn the server's features: Osprey
/// answers as the Prometheus release whose semantics its PromQL follows.
async fn buildinfo_handler() -> Response {
    success(json!({
        "version": "2.42.0",
        "revision": concat!("osprey-", env!("CARGO_PKG_VERSION")),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}

async fn logs_search_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let limit = parse_limit(&q, 100, 5000)?;
        let params = SearchParams {
            query: q.get("query").cloned().unwrap_or_default(),
            service: q.get("service").filter(|s| !s.is_empty()).cloned(),
            start_ns: q.get("start").map(|s| parse_time("start", s)).transpose()?,
            end_ns: q.get("end").map(|s| parse_time("end", s)).transpose()?,
            limit,
            cursor: q.get("cursor").filter(|s| !s.is_empty()).cloned(),
        };
        logsearch::search(&st, &tenant, &params).await
    };
    respond(run.await)
}

/// `limit`: `default` when absent, else 1..=`max`.
fn parse_limit(
    q: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, QueryError> {
    match q.get("limit") {
        None => Ok(default),
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                QueryError::BadData(format!(
                    "invalid parameter \"limit\": {l:?}; expected 1-{max}"
                ))
            }),
    }
}

/// A duration: Prometheus style (`30s`, `5m`, `1h30m`) or seconds (`15`, `0.5`).
fn parse_step_ms(name: &str, s: &str) -> Result<i64, QueryError> {
    let bad = || {
        QueryError::BadData(format!(
            "invalid parameter {name:?}: {s:?}; expected a duration like 30s, 5m or a number of seconds"
        ))
    };
    let ms = if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() {
            return Err(bad());
        }
        (secs * 1000.0).round() as i64
    } else {
        let d = promql_parser::util::parse_duration(s).map_err(|_| bad())?;
        i64::try_from(d.as_millis()).map_err(|_| bad())?
    };
    if ms <= 0 {
        return Err(bad());
    }
    Ok(ms)
}

fn stats_params(q: &HashMap<String, String>) -> Result<logstats::StatsParams, QueryError> {
    Ok(logstats::StatsParams {
        query: q.get("query").cloned().unwrap_or_default(),
        service: q.get("service").filter(|s| !s.is_empty()).cloned(),
        start_ns: q.get("start").map(|s| parse_time("start", s)).transpose()?,
        end_ns: q.get("end").map(|s| parse_time("end", s)).transpose()?,
    })
}

async fn logs_histogram_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let p = stats_params(&q)?;
        let step = q
            .get("step")
            .filter(|s| !s.is_empty())
            .map(|s| parse_step_ms("step", s))
            .transpose()?;
        let by = logstats::SplitBy::parse(q.get("by").map_or("", String::as_str))?;
        logstats::histogram(&st, &tenant, &p, step, by).await
    };
    respond(run.await)
}

async fn logs_fields_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let p = stats_params(&q)?;
        let top = parse_limit(&q, 10, 1000)?;
        logstats::fields(&st, &tenant, &p, top).await
    };
    respond(run.await)
}

async fn logs_patterns_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let p = stats_params(&q)?;
        let limit = parse_limit(&q, 50, 1000)?;
        patterns::patterns(&st, &tenant, &p, limit).await
    };
    respond(run.await)
}

async fn logs_tail_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = || -> Result<Response, QueryError> {
        let tenant = ctx.tenant().to_string();
        let rx = st.storage.subscribe_logs();
        let query = q.get("query").cloned().unwrap_or_default();
        let service = q.get("service").filter(|s| !s.is_empty()).cloned();
        Ok(logtail::tail(rx, tenant, query, service)?.into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// Prometheus accepts parameters in the query string and, for POST, a form body.
fn params(
    query: HashMap<String, String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> HashMap<String, String> {
    let mut p = query;
    if let Ok(Form(f)) = form {
        p.extend(f);
    }
    p
}

/// `timeout`: a duration, at most `query.timeout`.
fn prom_timeout(p: &HashMap<String, String>) -> Result<Option<std::time::Duration>, QueryError> {
    p.get("timeout")
        .map(|t| parse_step_ms("timeout", t).map(|ms| std::time::Duration::from_millis(ms as u64)))
        .transpose()
}

/// An optional time parameter, `default` when absent.
fn time_param(p: &HashMap<String, String>, name: &str, default: i64) -> Result<i64, QueryError> {
    p.get(name).map_or(Ok(default), |t| parse_time(name, t))
}

fn prom_query_param(p: &HashMap<String, String>) -> Result<&str, QueryError> {
    p.get("query")
        .map(String::as_str)
        .ok_or_else(|| QueryError::BadData("invalid parameter \"query\": missing".into()))
}

/// `GET|POST /api/v1/query`: an instant query at `time` (default now).
async fn prom_query_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let p = params(q, form);
        let time = time_param(&p, "time", now_ns())?;
        let req = promql::Request {
            query: prom_query_param(&p)?,
            start_ns: time,
            end_ns: time,
            step_ms: None,
            timeout: prom_timeout(&p)?,
        };
        promql::query(&st, &tenant, req).await
    };
    respond(run.await)
}

/// `GET|POST /api/v1/query_exemplars`: exemplars of the series the query selects.
async fn prom_exemplars_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let run = || {
        let tenant = ctx.tenant().to_string();
        let p = params(q, form);
        let start = time_param(&p, "start", i64::MIN)?;
        let end = time_param(&p, "end", i64::MAX)?;
        if end < start {
            return Err(QueryError::BadData(
                "invalid parameter \"end\": end timestamp must not be before start timestamp"
                    .into(),
            ));
        }
        promql::exemplars(&st, &tenant, prom_query_param(&p)?, start, end)
    };
    respond(run())
}

/// `GET|POST /api/v1/query_range`: the query at every `step` from `start` to `end`.
async fn prom_query_range_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let p = params(q, form);
        let need = |name: &str| {
            p.get(name)
                .ok_or_else(|| QueryError::BadData(format!("invalid parameter {name:?}: missing")))
        };
        let start = parse_time("start", need("start")?)?;
        let end = parse_time("end", need("end")?)?;
        let step = need("step")?;
        let step_ms = parse_step_ms("step", step).map_err(|_| {
            QueryError::BadData(format!(
                "invalid parameter \"step\": cannot parse {step:?} to a valid duration; zero or negative query resolution step widths are not accepted. Try a positive integer"
            ))
        })?;
        let req = promql::Request {
            query: prom_query_param(&p)?,
            start_ns: start,
            end_ns: end,
            step_ms: Some(step_ms),
            timeout: prom_timeout(&p)?,
        };
        promql::query(&st, &tenant, req).await
    };
    respond(run.await)
}

/// `match[]` selectors and `limit` of the metadata endpoints (query string and form).
fn list_params(
    q: Vec<(String, String)>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<(Vec<String>, Option<usize>), QueryError> {
    let mut pairs = q;
    if let Ok(Form(f)) = form {
        pairs.extend(f);
    }
    let mut selectors = Vec::new();
    let mut limit = None;
    for (k, v) in pairs {
        match k.as_str() {
            "match[]" => selectors.push(v),
            "limit" => {
                let n = v.parse::<usize>().map_err(|_| {
                    QueryError::BadData(format!(
                        "invalid parameter \"limit\": {v:?} is not a non-negative integer"
                    ))
                })?;
                // 0 means no limit, as in Prometheus.
                limit = (n > 0).then_some(n);
            }
            _ => {}
        }
    }
    Ok((selectors, limit))
}

/// `GET|POST /api/v1/labels`, optionally over the series `match[]` selects.
async fn labels_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let run = || {
        let tenant = ctx.tenant().to_string();
        let (selectors, limit) = list_params(q, form)?;
        promql::label_list(&st, &tenant, &selectors, None, limit)
    };
    respond(run())
}

/// `GET /api/v1/label/{name}/values`, optionally over the series `match[]` selects.
async fn label_values_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(name): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let run = || {
        let tenant = ctx.tenant().to_string();
        let (selectors, limit) = list_params(
            q,
            Err(FormRejection::from(
                axum::extract::rejection::InvalidFormContentType::default(),
            )),
        )?;
        promql::label_list(&st, &tenant, &selectors, Some(&name), limit)
    };
    respond(run())
}

/// `GET /api/v1/metadata`: type, help and unit per metric family (`metric`, `limit`).
async fn metadata_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = || {
        let tenant = ctx.tenant().to_string();
        let limit = match q.get("limit") {
            None => None,
            Some(l) => {
                let n: i64 = l.parse().map_err(|_| {
                    QueryError::BadData(format!("invalid parameter \"limit\": {l:?}"))
                })?;
                // Negative or zero: no limit, as Prometheus reads it.
                (n > 0).then_some(n as usize)
            }
        };
        let metric = q
            .get("metric")
            .filter(|m| !m.is_empty())
            .map(String::as_str);
        Ok(st.storage.metadata().list(&tenant, metric, limit))
    };
    respond(run())
}

/// `GET|POST /api/v1/series`: the label sets `match[]` selects.
async fn series_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let run = || {
        let tenant = ctx.tenant().to_string();
        let (selectors, limit) = list_params(q, form)?;
        if selectors.is_empty() {
            return Err(QueryError::BadData("no match[] parameter provided".into()));
        }
        promql::series_matching(&st, &tenant, &selectors, limit)
    };
    respond(run())
}

/// `POST /api/v1/admin/flush`: flushes the asking tenant's buffered rows only.
async fn flush_handler(State(st): State<QueryState>, ctx: RequestContext) -> Response {
    let tenant = ctx.tenant().to_string();
    match st.storage.flush_tenant(&tenant).await {
        Ok(stats) => success(stats),
        Err(e) => admin_error("flush", &e),
    }
}

/// `GET /api/v1/status/storage`: the asking tenant's partitions and buffered bytes
/// (never another tenant's).
async fn storage_status_handler(State(st): State<QueryState>, ctx: RequestContext) -> Response {
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
    success(json!({
        "partitions": partitions,
        "memtable_bytes": st.storage.buffered_bytes_of(&tenant),
    }))
}

/// `POST /api/v1/admin/compact[?full=true]`: merges the asking tenant's files only.
async fn compact_handler(
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
fn admin_error(what: &str, e: &osprey_storage::StorageError) -> Response {
    tracing::error!(error = %e, "admin {what} failed");
    if e.is_disk_full() {
        let body = json!({
            "status": "error",
            "errorType": "unavailable",
            "error": format!("{what} failed: the server's disk is full; retry once space is freed"),
        });
        return (
            axum::http::StatusCode::INSUFFICIENT_STORAGE,
            [(axum::http::header::RETRY_AFTER, "10")],
            Json(body),
        )
            .into_response();
    }
    QueryError::Internal(e.client_message()).into_response()
}

async fn not_found() -> Response {
    QueryError::NotFound("no such endpoint".into()).into_response()
}

/// Every query, admin and ops route of the API port.
pub fn router(st: QueryState, ops_state: OpsState) -> Router {
    let ops = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(ops_state);
    Router::new()
        .route("/api/v1/sql", post(sql_handler))
        .route("/api/traces", get(traces_search_handler))
        .route("/api/dependencies", get(dependencies_handler))
        .route("/api/metrics/{kind}", get(jaeger_metrics_handler))
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
        .route("/api/v1/logs/search", get(logs_search_handler))
        .route("/api/v1/logs/histogram", get(logs_histogram_handler))
        .route("/api/v1/logs/fields", get(logs_fields_handler))
        .route("/api/v1/logs/tail", get(logs_tail_handler))
        .route("/api/v1/logs/patterns", get(logs_patterns_handler))
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
        .route("/api/v1/admin/flush", post(flush_handler))
        .route("/api/v1/admin/compact", post(compact_handler))
        .route("/api/v1/status/storage", get(storage_status_handler))
        .route("/api/{*rest}", get(not_found).post(not_found))
        .with_state(st)
        .merge(ops)
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
