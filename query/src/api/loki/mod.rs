//! Loki's query API on the HTTP port (`/loki/api/v1/*`), as Loki 3 answers it, so that
//! Grafana's Loki data source works against Osprey: `query_range` (log queries as
//! streams, metric queries as matrices), `query` (instant metric queries), `labels`,
//! `label/{name}/values`, `series`, `index/stats`, `index/volume`,
//! `index/volume_range` (Grafana's Logs Drilldown), `tail` (a WebSocket: the last
//! lines since `start`, then each new batch's, as `{"streams": […]}` frames),
//! `format_query` and `status/buildinfo`; Drilldown's `detected_*`, `patterns` and
//! `drilldown-limits` are `drilldown.rs`. Parameters follow
//! `params.rs`, answers and errors `render.rs`; the engines are
//! `crate::logs::logql` and `crate::logs::streams`. Tenancy comes from the request
//! context, as everywhere.

mod drilldown;
mod params;
mod render;

pub(super) use drilldown::{
    field_values_handler as detected_field_values_handler,
    fields_handler as detected_fields_handler, labels_handler as detected_labels_handler,
    limits_handler as drilldown_limits_handler, patterns_handler,
};

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use osprey_auth::RequestContext;
use osprey_logql::logql::{self, LogExpr, Query as LogqlQuery};
use serde_json::{Value as Json, json};

use self::params::Params;
use self::render::{Answer, LokiError, data_response, query_response};
use super::now_ns;
use crate::logs::{logql as engine, streams};
use crate::{QueryError, QueryState};

/// The query string and, for POST, the form: the first value of each name.
fn merged(q: Params, form: Result<Form<Params>, FormRejection>) -> Params {
    let mut p = form.map(|Form(f)| f).unwrap_or_default();
    for (k, v) in q {
        p.entry(k).or_insert(v);
    }
    p
}

fn parse(q: &str) -> Result<LogqlQuery, QueryError> {
    Ok(logql::parse(q)?)
}

fn respond(r: Result<Response, QueryError>) -> Response {
    r.unwrap_or_else(|e| LokiError(e).into_response())
}

/// `GET|POST /loki/api/v1/query_range`.
pub(super) async fn query_range_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Params>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = merged(q, form);
    let run = async {
        let (start, end) = params::bounds(&p, now_ns())?;
        if end < start {
            return Err(QueryError::BadData(
                "end timestamp must not be before or equal to start time".into(),
            ));
        }
        let query = parse(p.get("query").map_or("", String::as_str))?;
        let answer = match query {
            LogqlQuery::Log(log) => {
                let limit = params::limit(&p, true)?;
                let forward = params::forward(&p)?;
                let mut streams =
                    engine::logs(&st, ctx.tenant(), &log, (start, end), limit, forward).await?;
                if !forward {
                    streams.reverse();
                }
                Answer::Streams(streams)
            }
            LogqlQuery::Metric(m) => {
                params::limit(&p, false)?;
                params::forward(&p)?;
                let step = params::step(&p, start, end)?;
                Answer::Matrix(engine::range(&st, ctx.tenant(), &m, start, end, step).await?)
            }
        };
        Ok(query_response(&answer))
    };
    respond(run.await)
}

/// `GET|POST /loki/api/v1/query`: a metric query at `time` (default now).
pub(super) async fn query_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Params>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = merged(q, form);
    let run = async {
        params::limit(&p, false)?;
        let t = match p.get("time").filter(|v| !v.is_empty()) {
            Some(v) => params::timestamp(v).map_err(QueryError::BadData)?,
            None => now_ns(),
        };
        params::forward(&p)?;
        let m = match parse(p.get("query").map_or("", String::as_str))? {
            LogqlQuery::Metric(m) => m,
            LogqlQuery::Log(_) => {
                return Err(QueryError::BadData(
                    "log queries are not supported as an instant query type, please change your query to a range query type".into(),
                ));
            }
        };
        let answer = match engine::instant(&st, ctx.tenant(), &m, t).await? {
            logql::Value::Scalar(v) => Answer::Scalar(t, v),
            logql::Value::Vector(v) => {
                let mut samples: Vec<_> = v.into_iter().map(|s| (s.labels, s.value)).collect();
                if !sorted_by_value(&m) {
                    samples.sort_by(|a, b| a.0.cmp(&b.0));
                }
                Answer::Vector(t, samples)
            }
        };
        Ok(query_response(&answer))
    };
    respond(run.await)
}

/// Whether an instant query's samples keep the order its top aggregation gave them
/// (`sort`, `sort_desc`, `topk`, `bottomk`) instead of being sorted by labels.
fn sorted_by_value(m: &logql::MetricExpr) -> bool {
    matches!(
        m,
        logql::MetricExpr::Aggregate {
            op: logql::AggOp::Sort
                | logql::AggOp::SortDesc
                | logql::AggOp::Topk
                | logql::AggOp::Bottomk,
            ..
        }
    )
}

/// A `query` or `match[]` stream selector (`{…}` alone).
fn selector(s: &str) -> Result<LogExpr, QueryError> {
    match parse(s)? {
        LogqlQuery::Log(l) if l.pipeline.is_empty() => Ok(l),
        _ => Err(QueryError::BadData(format!(
            "parse error : {s:?} is not a stream selector"
        ))),
    }
}

/// The streams of the request's time range that its `query` selector (if any) selects.
async fn streams_of(
    st: &QueryState,
    ctx: &RequestContext,
    p: &Params,
) -> Result<Vec<logql::Labels>, QueryError> {
    let (start, end) = params::bounds(p, now_ns())?;
    let selectors = match p.get("query").filter(|q| !q.is_empty()) {
        Some(q) => vec![selector(q)?],
        None => Vec::new(),
    };
    streams::list(st, ctx.tenant(), start, end, selectors).await
}

/// `GET /loki/api/v1/labels`: label names of the range's streams, sorted.
pub(super) async fn labels_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(p): Query<Params>,
) -> Response {
    let run = async {
        let names: BTreeSet<String> = streams_of(&st, &ctx, &p)
            .await?
            .into_iter()
            .flat_map(|l| l.into_keys())
            .collect();
        Ok(data_response(json!(names), true))
    };
    respond(run.await)
}

/// `GET /loki/api/v1/label/{name}/values`: the label's values in the range, sorted.
pub(super) async fn label_values_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let run = async {
        let values: BTreeSet<String> = streams_of(&st, &ctx, &p)
            .await?
            .into_iter()
            .filter_map(|mut l| l.remove(&name))
            .collect();
        Ok(data_response(json!(values), true))
    };
    respond(run.await)
}

/// `GET|POST /loki/api/v1/series`: the label sets of the streams one of the `match[]`
/// selectors selects (every stream without one).
pub(super) async fn series_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(mut pairs): Query<Vec<(String, String)>>,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let run = async {
        pairs.extend(body.map(|Form(b)| b).unwrap_or_default());
        let mut p = Params::new();
        let mut selectors = Vec::new();
        for (k, v) in pairs {
            if k == "match[]" || k == "match" {
                if v.trim() != "{}" {
                    selectors.push(selector(&v)?);
                }
            } else {
                p.entry(k).or_insert(v);
            }
        }
        let (start, end) = params::bounds(&p, now_ns())?;
        let list = streams::list(&st, ctx.tenant(), start, end, selectors).await?;
        let data: Vec<&BTreeMap<String, String>> = list.iter().collect();
        Ok(data_response(json!(data), false))
    };
    respond(run.await)
}

/// The `query` selector of an index endpoint (required).
fn index_selector(p: &Params) -> Result<LogExpr, QueryError> {
    selector(p.get("query").map_or("", String::as_str))
}

/// `GET|POST /loki/api/v1/index/stats`: `{"streams", "chunks", "bytes", "entries"}` of
/// the streams the selector selects (chunks: Osprey has none; the streams are given).
pub(super) async fn index_stats_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Params>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = merged(q, form);
    let run = async {
        let range = params::bounds(&p, now_ns())?;
        let sel = index_selector(&p)?;
        let v = streams::volume(&st, ctx.tenant(), range, sel, None, None).await?;
        let (mut bytes, mut entries) = (0u64, 0u64);
        for b in v.groups.values().flat_map(|g| g.values()) {
            bytes += b.bytes;
            entries += b.lines;
        }
        Ok(axum::Json(json!({
            "streams": v.streams,
            "chunks": v.streams,
            "bytes": bytes,
            "entries": entries,
        }))
        .into_response())
    };
    respond(run.await)
}

/// `GET|POST /loki/api/v1/index/volume`: bytes per group of streams over the range,
/// as a vector at `end`.
pub(super) async fn volume_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Params>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = merged(q, form);
    respond(volume(&st, &ctx, &p, false).await)
}

/// `GET|POST /loki/api/v1/index/volume_range`: the same per `step` bucket, a matrix.
pub(super) async fn volume_range_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<Params>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = merged(q, form);
    respond(volume(&st, &ctx, &p, true).await)
}

/// Loki's volume (`pkg/querier/queryrange/volume.go`): grouped by `targetLabels`, else
/// by the selector's label names; `aggregateBy=labels` sums per label name instead;
/// the `limit` (default 100) largest, largest first.
async fn volume(
    st: &QueryState,
    ctx: &RequestContext,
    p: &Params,
    ranged: bool,
) -> Result<Response, QueryError> {
    let (start, end) = params::bounds(p, now_ns())?;
    if end < start {
        return Err(QueryError::BadData(
            "end timestamp must not be before or equal to start time".into(),
        ));
    }
    let limit = match p.get("limit").filter(|v| !v.is_empty()) {
        None => 100,
        Some(v) => match v.parse::<i64>() {
            Ok(0) => 100,
            Ok(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
            Ok(_) => return Err(QueryError::BadData("limit must be a positive value".into())),
            Err(_) => {
                return Err(QueryError::BadData(format!(
                    "strconv.Atoi: parsing {v:?}: invalid syntax"
                )));
            }
        },
    };
    let by_labels = match p.get("aggregateBy").map(String::as_str) {
        None | Some("") | Some("series") => false,
        Some("labels") => true,
        Some(_) => return Err(QueryError::BadData("invalid aggregation option".into())),
    };
    let sel = index_selector(p)?;
    let group: Vec<String> = match p.get("targetLabels").filter(|t| !t.is_empty()) {
        Some(t) => t.split(',').map(|s| s.trim().to_string()).collect(),
        None => sel.matchers.iter().map(|m| m.name.clone()).collect(),
    };
    let step = if ranged {
        Some(params::step(p, start, end)?)
    } else {
        None
    };
    let v = streams::volume(st, ctx.tenant(), (start, end), sel, Some(group), step).await?;
    // (labels, bytes per bucket end), by labels.
    let mut series: BTreeMap<logql::Labels, BTreeMap<i64, u64>> = BTreeMap::new();
    for (labels, buckets) in v.groups {
        let keys: Vec<logql::Labels> = if by_labels {
            labels
                .keys()
                .map(|k| [(k.clone(), String::new())].into())
                .collect()
        } else {
            vec![labels]
        };
        for key in keys {
            let dst = series.entry(key).or_default();
            for (b, vol) in &buckets {
                let at = match step {
                    Some(s) => b + s,
                    None => end,
                };
                *dst.entry(at).or_default() += vol.bytes;
            }
        }
    }
    let mut ranked: Vec<(logql::Labels, BTreeMap<i64, u64>, u64)> = series
        .into_iter()
        .map(|(l, b)| {
            let total = b.values().sum();
            (l, b, total)
        })
        .collect();
    ranked.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(limit);
    let answer = if ranged {
        Answer::Matrix(
            ranked
                .into_iter()
                .map(|(l, b, _)| (l, b.into_iter().map(|(t, v)| (t, v as f64)).collect()))
                .collect(),
        )
    } else {
        Answer::Vector(
            end,
            ranked
                .into_iter()
                .map(|(l, _, total)| (l, total as f64))
                .collect(),
        )
    };
    Ok(query_response(&answer))
}

/// Most lines a tail sends from before it started (Loki's `limit`, default 100).
const TAIL_HISTORY: usize = 100;

/// `GET /loki/api/v1/tail` (WebSocket): the log query's lines since `start` (default an
/// hour ago; at most `limit`, oldest first), then each newly acknowledged batch's, as
/// `{"streams": [{"stream", "values"}]}` text frames; a client that fell behind gets
/// `{"streams": [], "dropped_entries": [{"labels": {}, "timestamp"}]}` for the skipped
/// batches.
pub(super) async fn tail_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(p): Query<Params>,
    ws: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    let run = async {
        let log = match parse(p.get("query").map_or("", String::as_str))? {
            LogqlQuery::Log(l) => l,
            LogqlQuery::Metric(_) => {
                return Err(QueryError::BadData(
                    "tail only supports log queries, not metric queries".into(),
                ));
            }
        };
        let limit = params::limit(&p, true)?.min(TAIL_HISTORY.max(1));
        let now = now_ns();
        let start = match p.get("start").filter(|v| !v.is_empty()) {
            Some(v) => params::timestamp(v).map_err(QueryError::BadData)?,
            None => now - 3_600_000_000_000,
        };
        // Subscribed before the history is read: nothing acknowledged in between is lost
        // (a line may come twice, as in Loki).
        let tenant = ctx.tenant().to_string();
        let rx = st.storage.subscribe_logs_of(&tenant);
        let history = engine::logs(&st, &tenant, &log, (start, now + 1), limit, false).await?;
        Ok(ws.on_upgrade(move |socket| tail_socket(socket, rx, tenant, log, history)))
    };
    respond(run.await.map(IntoResponse::into_response))
}

async fn tail_socket(
    mut socket: axum::extract::ws::WebSocket,
    rx: osprey_storage::TailReceiver,
    tenant: String,
    log: LogExpr,
    mut history: Vec<logql::Stream>,
) {
    use axum::extract::ws::Message;
    use futures::StreamExt;
    for s in &mut history {
        s.entries.sort_by_key(|l| l.ts_ns);
    }
    if !history.is_empty()
        && socket
            .send(Message::Text(render::tail_frame(&history, None).into()))
            .await
            .is_err()
    {
        return;
    }
    let events = crate::logs::tail::logql_tail(rx, tenant, log);
    futures::pin_mut!(events);
    // The client's frames are read too: its close ends the tail at once (answered),
    // rather than at the next line that matches, which may never come.
    loop {
        let ev = tokio::select! {
            ev = events.next() => ev,
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
                None | Some(Err(_)) => return,
                // Pings are answered by the server; other frames mean nothing here.
                Some(Ok(_)) => continue,
            },
        };
        let Some(ev) = ev else { return };
        let frame = match ev {
            crate::logs::tail::LogqlTailEvent::Streams(s) => render::tail_frame(&s, None),
            crate::logs::tail::LogqlTailEvent::Dropped(n) => {
                render::tail_frame(&[], Some((n, now_ns())))
            }
        };
        if socket.send(Message::Text(frame.into())).await.is_err() {
            return;
        }
    }
}

/// `GET|POST /loki/api/v1/format_query`: the query as Loki's `syntax.Prettify` writes
/// it, or a 400 `{"status": "invalid-query", "error": …}`.
pub(super) async fn format_query_handler(
    Query(q): Query<Params>,
    form: Result<Form<Params>, FormRejection>,
) -> Response {
    let p = merged(q, form);
    match logql::parse(p.get("query").map_or("", String::as_str)) {
        Ok(query) => axum::Json(json!({
            "status": "success",
            "data": logql::pretty::pretty(&query),
        }))
        .into_response(),
        Err(e) => (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"status": "invalid-query", "error": e.to_string()})),
        )
            .into_response(),
    }
}

/// `GET /loki/api/v1/status/buildinfo`: a bare object, as Loki's.
pub(super) async fn buildinfo_handler() -> Response {
    axum::Json(buildinfo()).into_response()
}

fn buildinfo() -> Json {
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "",
        "buildUser": "osprey",
        "buildDate": "",
        "goVersion": "",
    })
}
