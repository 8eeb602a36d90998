//! Osprey's log API: search, histogram, fields, patterns and live tail.
//!
//! Tail events (server-sent): `event: log` with a record (the search's hit shape) as
//! data; `event: dropped` with `{"batches": n}` when the client fell behind and the
//! oldest batches were skipped; a keep-alive comment every 15 s.

use std::collections::HashMap;

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use osprey_auth::RequestContext;

use crate::logs::filter::Language;
use crate::logs::search::{self as logsearch, SearchParams};
use crate::logs::tail::{self as logtail, TailEvent};
use crate::logs::{patterns, stats as logstats};
use crate::{QueryError, QueryState};

use super::{parse_time, prometheus::respond};

pub(super) async fn logs_search_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let limit = parse_limit(&q, 100, 5000)?;
        let params = SearchParams {
            query: q.get("query").cloned().unwrap_or_default(),
            language: language(&q)?,
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

/// `language`: the query's, `search` (the default) or `logql`.
fn language(q: &HashMap<String, String>) -> Result<Language, QueryError> {
    Language::parse(q.get("language").map(String::as_str))
}

/// `limit`: `default` when absent, else 1..=`max`.
pub(super) fn parse_limit(
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
pub(super) fn parse_step_ms(name: &str, s: &str) -> Result<i64, QueryError> {
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

pub(super) fn stats_params(
    q: &HashMap<String, String>,
) -> Result<logstats::StatsParams, QueryError> {
    Ok(logstats::StatsParams {
        query: q.get("query").cloned().unwrap_or_default(),
        language: language(q)?,
        service: q.get("service").filter(|s| !s.is_empty()).cloned(),
        start_ns: q.get("start").map(|s| parse_time("start", s)).transpose()?,
        end_ns: q.get("end").map(|s| parse_time("end", s)).transpose()?,
    })
}

pub(super) async fn logs_histogram_handler(
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

pub(super) async fn logs_fields_handler(
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

pub(super) async fn logs_patterns_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = async {
        let tenant = ctx.tenant().to_string();
        let p = stats_params(&q)?;
        let limit = parse_limit(&q, 50, 1000)?;
        patterns::patterns(&st, &tenant, &p, limit, None).await
    };
    respond(run.await)
}

pub(super) async fn logs_tail_handler(
    State(st): State<QueryState>,
    ctx: RequestContext,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let run = || -> Result<Response, QueryError> {
        let tenant = ctx.tenant().to_string();
        let rx = st.storage.subscribe_logs_of(&tenant);
        let query = q.get("query").cloned().unwrap_or_default();
        let service = q.get("service").filter(|s| !s.is_empty()).cloned();
        let events = logtail::tail(rx, tenant, (language(&q)?, query), service)?
            .filter_map(|ev| std::future::ready(sse_event(ev).map(Ok::<_, Infallible>)));
        Ok(Sse::new(events)
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// A tail item as a server-sent event; a record that cannot be serialised is skipped.
fn sse_event(ev: TailEvent) -> Option<Event> {
    match ev {
        TailEvent::Log(hit) => Event::default().event("log").json_data(&hit).ok(),
        TailEvent::Dropped(n) => Some(
            Event::default()
                .event("dropped")
                .data(format!("{{\"batches\":{n}}}")),
        ),
    }
}
