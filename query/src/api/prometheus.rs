//! The Prometheus HTTP API: instant and range queries, exemplars, series, labels, label values, metadata, build info; Prometheus' envelope (`{"status","data"}` / `{"status","errorType","error"}`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;
use serde_json::json;

use crate::{QueryError, QueryState, promql};

use super::{logs::parse_step_ms, now_ns, parse_time, prometheus_json};

pub(super) fn success(data: impl serde::Serialize) -> Response {
    /// `{"data", "status"}`, keys in the order a `json!` object writes them, without
    /// building a JSON tree of the data first.
    #[derive(serde::Serialize)]
    struct Envelope<T> {
        data: T,
        status: &'static str,
    }
    Json(Envelope {
        data,
        status: "success",
    })
    .into_response()
}

/// Osprey's and Prometheus' envelope for a result, or the error in Prometheus' shape.
pub(super) fn respond<T: serde::Serialize>(r: Result<T, QueryError>) -> Response {
    match r {
        Ok(data) => success(data),
        Err(e) => e.into_response(),
    }
}

/// What Grafana's Prometheus data source asks to learn the server's features: Osprey
/// answers as the Prometheus release whose semantics its PromQL follows.
pub(super) async fn buildinfo_handler() -> Response {
    success(json!({
        "version": "2.42.0",
        "revision": concat!("osprey-", env!("CARGO_PKG_VERSION")),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}

/// Prometheus accepts parameters in the query string and, for POST, a form body.
pub(super) fn params(
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
pub(super) fn prom_timeout(
    p: &HashMap<String, String>,
) -> Result<Option<std::time::Duration>, QueryError> {
    p.get("timeout")
        .map(|t| parse_step_ms("timeout", t).map(|ms| std::time::Duration::from_millis(ms as u64)))
        .transpose()
}

/// An optional time parameter, `default` when absent.
pub(super) fn time_param(
    p: &HashMap<String, String>,
    name: &str,
    default: i64,
) -> Result<i64, QueryError> {
    p.get(name).map_or(Ok(default), |t| parse_time(name, t))
}

pub(super) fn prom_query_param(p: &HashMap<String, String>) -> Result<&str, QueryError> {
    p.get("query")
        .map(String::as_str)
        .ok_or_else(|| QueryError::BadData("invalid parameter \"query\": missing".into()))
}

/// `GET|POST /api/v1/query`: an instant query at `time` (default now).
pub(super) async fn prom_query_handler(
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
        promql::evaluate(&st, &tenant, req)
            .await
            .map(prometheus_json::render)
    };
    respond(run.await)
}

/// `GET|POST /api/v1/query_exemplars`: exemplars of the series the query selects.
pub(super) async fn prom_exemplars_handler(
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
            .map(prometheus_json::exemplars)
    };
    respond(run())
}

/// `GET|POST /api/v1/query_range`: the query at every `step` from `start` to `end`.
pub(super) async fn prom_query_range_handler(
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
        promql::evaluate(&st, &tenant, req)
            .await
            .map(prometheus_json::render)
    };
    respond(run.await)
}

/// What the metadata endpoints take: `match[]` selectors, `limit`, and the time range
/// (`start`/`end`; only series with a sample in it count).
pub(super) struct ListParams {
    selectors: Vec<String>,
    limit: Option<usize>,
    range: promql::Range,
}

/// [`ListParams`] from the query string and form.
pub(super) fn list_params(
    q: Vec<(String, String)>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<ListParams, QueryError> {
    let mut pairs = q;
    if let Ok(Form(f)) = form {
        pairs.extend(f);
    }
    let mut selectors = Vec::new();
    let mut limit = None;
    let (mut start, mut end) = (None, None);
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
            "start" => start = Some(super::parse_time("start", &v)?),
            "end" => end = Some(super::parse_time("end", &v)?),
            _ => {}
        }
    }
    let range = match (start, end) {
        (None, None) => None,
        (s, e) => Some((s.unwrap_or(i64::MIN), e.unwrap_or(i64::MAX))),
    };
    if let Some((s, e)) = range
        && e < s
    {
        return Err(QueryError::BadData(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        ));
    }
    Ok(ListParams {
        selectors,
        limit,
        range,
    })
}

/// One of the label endpoints, on a blocking thread (a time range reads samples).
async fn labels_of_params(
    st: QueryState,
    ctx: RequestContext,
    p: Result<ListParams, QueryError>,
    label: Option<String>,
) -> Result<Vec<String>, QueryError> {
    let p = p?;
    let tenant = ctx.tenant().to_string();
    let st2 = st.clone();
    st.blocking("labels", move || {
        promql::label_list(
            &st2,
            &tenant,
            &p.selectors,
            p.range,
            label.as_deref(),
            p.limit,
        )
    })
    .await
}

/// `GET|POST /api/v1/labels`, optionally over the series `match[]` selects and with a
/// sample in `start`..`end`.
pub(super) async fn labels_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    respond(labels_of_params(st, ctx, list_params(q, form), None).await)
}

/// `GET /api/v1/label/{name}/values`, optionally over the series `match[]` selects and
/// with a sample in `start`..`end`.
pub(super) async fn label_values_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(name): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let p = list_params(
        q,
        Err(FormRejection::from(
            axum::extract::rejection::InvalidFormContentType::default(),
        )),
    );
    respond(labels_of_params(st, ctx, p, Some(name)).await)
}

/// `GET /api/v1/metadata`: type, help and unit per metric family (`metric`, `limit`).
pub(super) async fn metadata_handler(
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
        promql::metric_metadata(&st, &tenant, metric, limit)
    };
    respond(run())
}

/// `GET|POST /api/v1/series`: the label sets `match[]` selects.
pub(super) async fn series_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Vec<(String, String)>>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let p = list_params(q, form)?;
        if p.selectors.is_empty() {
            return Err(QueryError::BadData("no match[] parameter provided".into()));
        }
        let st2 = st.clone();
        st.blocking("series", move || {
            promql::series_labels(&st2, &tenant, &p.selectors, p.range, p.limit)
                .map(|l| prometheus_json::series(&l))
        })
        .await
    };
    respond(run.await)
}

/// Prometheus' error shape, used by every query endpoint that has no shape of its own.
impl IntoResponse for QueryError {
    fn into_response(self) -> Response {
        if matches!(self, QueryError::Internal(_)) {
            tracing::error!(error = %self, "query failed");
        }
        let body = json!({
            "status": "error",
            "errorType": self.error_type(),
            "error": self.to_string(),
        });
        (self.status(), Json(body)).into_response()
    }
}
