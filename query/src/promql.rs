//! PromQL over storage: fetches the samples a query's selectors need (series index,
//! then a samples scan pruned by series id and time) and runs `osprey-promql`'s
//! evaluator on a blocking thread under the query's deadline. [`evaluate`] returns the
//! evaluator's typed value (the seam the API and rule evaluation share);
//! `api/prometheus_json.rs` renders it. The metadata endpoints' helpers here
//! (`series_matching`, `label_list`, `exemplars`) still return JSON.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use osprey_promql::{Data, Labels, Limits, PromqlError, Query, RawSeries, Selection, Value};
use promql_parser::parser::{Expr, VectorSelector};
use serde_json::{Value as Json, json};

use osprey_storage::Signal;
use osprey_storage::series::{Matcher, Series};

use crate::{QueryError, QueryState};

/// Prometheus' float rendering in JSON values (Go's `FormatFloat(v, 'f', -1, 64)`).
pub use osprey_promql::format_value;

/// A time in seconds as Prometheus writes it: whole seconds as an integer, else with
/// the milliseconds as a fraction.
pub(crate) fn secs(ms: i64) -> Json {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

impl From<PromqlError> for QueryError {
    fn from(e: PromqlError) -> Self {
        match e {
            PromqlError::Parse(m) => {
                QueryError::BadData(format!("invalid parameter \"query\": {m}"))
            }
            PromqlError::Unsupported(m) => QueryError::BadData(m),
            PromqlError::Execution(m) | PromqlError::Limit(m) => QueryError::Execution(m),
            PromqlError::Timeout(_) => QueryError::Timeout(Duration::ZERO),
        }
    }
}

/// Prometheus' most points per series of a range query.
const MAX_POINTS: i64 = 11_000;

/// One PromQL request: the query text, its steps, and an optional shorter timeout.
pub struct Request<'a> {
    pub query: &'a str,
    pub start_ns: i64,
    pub end_ns: i64,
    /// `None` for an instant query.
    pub step_ms: Option<i64>,
    pub timeout: Option<Duration>,
}

/// What the evaluator answered for a request, before any rendering: the value at each
/// step and the steps it was evaluated at. The Prometheus API renders it; a rule
/// evaluator reads it as it is.
pub struct Evaluation {
    pub value: Value,
    pub query: Query,
    /// How an instant vector is listed (`sort`, `sort_desc`, or by labels).
    pub order: Order,
}

impl Evaluation {
    /// Whether the request was an instant query (one step).
    pub fn is_instant(&self) -> bool {
        self.query.instant
    }
}

/// Evaluates a request for `tenant`: the typed seam the Prometheus API and rule
/// evaluation share.
pub async fn evaluate(
    st: &QueryState,
    tenant: &str,
    req: Request<'_>,
) -> Result<Evaluation, QueryError> {
    let expr = osprey_promql::parse(req.query)?;
    // Prometheus rounds request times to the nearest millisecond.
    let ms = |ns: i64| ns.saturating_add(500_000).div_euclid(1_000_000);
    let (start, end) = (ms(req.start_ns), ms(req.end_ns));
    let step = match req.step_ms {
        None => 1,
        Some(step) => {
            if end < start {
                return Err(QueryError::BadData(
                    "invalid parameter \"end\": end timestamp must not be before start time".into(),
                ));
            }
            if (end - start) / step > MAX_POINTS {
                return Err(QueryError::BadData(format!(
                    "exceeded maximum resolution of {MAX_POINTS} points per timeseries. Try decreasing the query resolution (?step=XX)"
                )));
            }
            step
        }
    };
    let cfg = &st.config;
    let q = Query {
        start,
        end: if req.step_ms.is_none() { start } else { end },
        step,
        lookback: cfg.lookback_delta.as_millis() as i64,
        subquery_step: cfg.subquery_step.as_millis() as i64,
        instant: req.step_ms.is_none(),
    };
    let timeout = req.timeout.map_or(cfg.timeout, |t| t.min(cfg.timeout));
    let deadline = Instant::now() + timeout;
    let limits = Limits {
        max_samples: cfg.max_samples,
        max_series: cfg.max_series,
        deadline: Some(deadline),
    };
    let selections = osprey_promql::plan(&expr, &q);
    let data = tokio::time::timeout(timeout, fetch(st, tenant, &selections, &limits))
        .await
        .map_err(|_| QueryError::Timeout(timeout))??;
    let order = result_order(&expr);
    let value = tokio::task::spawn_blocking(move || {
        osprey_promql::evaluate(&expr, &q, &data, &limits).map(|v| (v, q))
    })
    .await
    .map_err(|e| QueryError::Internal(format!("query evaluation stopped: {e}")))?;
    let (value, q) = value.map_err(|e| match e {
        PromqlError::Timeout(_) => QueryError::Timeout(timeout),
        other => other.into(),
    })?;
    Ok(Evaluation {
        value,
        query: q,
        order,
    })
}

/// Reads every selection's series and samples from one snapshot of the tenant's
/// metrics: series through the index, samples through the `series_id` page index of
/// each file (`osprey_storage::samples`), on a blocking thread.
async fn fetch(
    st: &QueryState,
    tenant: &str,
    selections: &[Selection],
    limits: &Limits,
) -> Result<Data, QueryError> {
    let mut resolved = Vec::with_capacity(selections.len());
    for sel in selections {
        let series = resolve(st, tenant, &sel.selector);
        if series.len() > limits.max_series {
            return Err(QueryError::Execution(format!(
                "selector {} matches {} series, more than query.max_series ({})",
                sel.key,
                series.len(),
                limits.max_series
            )));
        }
        resolved.push((sel.clone(), series));
    }
    let storage = st.storage.clone();
    let tenant = tenant.to_string();
    let max_samples = limits.max_samples;
    tokio::task::spawn_blocking(move || {
        let snap = storage.snapshot(&tenant, Signal::Metrics);
        let mut data = Data::default();
        let mut loaded = 0usize;
        for (sel, series) in resolved {
            let mut ids: Vec<u64> = series.iter().map(|s| s.id).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut by_id = if ids.is_empty() {
                HashMap::new()
            } else {
                storage
                    .read_samples(
                        &snap,
                        &ids,
                        sel.start.saturating_mul(1_000_000),
                        // Whole milliseconds: a sample at end + 0.9 ms still belongs to `end`.
                        sel.end.saturating_mul(1_000_000).saturating_add(999_999),
                    )
                    .map_err(|e| QueryError::Internal(e.to_string()))?
            };
            loaded += by_id.values().map(Vec::len).sum::<usize>();
            if loaded > max_samples {
                return Err(QueryError::Execution(
                    "query processing would load too many samples into memory in query execution"
                        .into(),
                ));
            }
            let mut raw: Vec<RawSeries> = Vec::with_capacity(by_id.len());
            for s in &series {
                let Some(mut samples) = by_id.remove(&s.id) else {
                    continue;
                };
                // Stable: of two samples in one millisecond the later-read one wins.
                samples.sort_by_key(|p| p.0);
                let mut r = RawSeries {
                    labels: labels_of(s),
                    ts: Vec::with_capacity(samples.len()),
                    vals: Vec::with_capacity(samples.len()),
                };
                for (t, v) in samples {
                    let t = t.div_euclid(1_000_000);
                    if r.ts.last() == Some(&t) {
                        if let Some(last) = r.vals.last_mut() {
                            *last = v;
                        }
                        continue;
                    }
                    r.ts.push(t);
                    r.vals.push(v);
                }
                raw.push(r);
            }
            raw.sort_by(|a, b| a.labels.cmp(&b.labels));
            data.insert(sel.key.clone(), raw);
        }
        Ok(data)
    })
    .await
    .map_err(|e| QueryError::Internal(format!("sample read stopped: {e}")))?
}

fn labels_of(s: &Series) -> Labels {
    let mut pairs = Vec::with_capacity(s.labels.len() + 1);
    pairs.push(("__name__".to_string(), s.metric.clone()));
    pairs.extend(s.labels.iter().cloned());
    Labels::new(pairs)
}

pub(crate) fn metric_json(l: &Labels) -> Json {
    Json::Object(
        l.pairs()
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    )
}

/// How an instant vector is ordered: by value for `sort`/`sort_desc`/`topk`/`bottomk`
/// at the top, else by labels (Prometheus leaves that order unspecified).
#[derive(Clone, Copy)]
pub enum Order {
    Labels,
    Ascending,
    Descending,
}

fn result_order(e: &Expr) -> Order {
    let mut e = e;
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    match e {
        Expr::Call(c) if c.func.name == "sort" => Order::Ascending,
        Expr::Call(c) if c.func.name == "sort_desc" => Order::Descending,
        Expr::Aggregate(a) if a.op.to_string() == "topk" => Order::Descending,
        Expr::Aggregate(a) if a.op.to_string() == "bottomk" => Order::Ascending,
        _ => Order::Labels,
    }
}

/// Every vector selector an expression reads (inside ranges and subqueries too).
fn selectors_of(e: &Expr, out: &mut Vec<VectorSelector>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs.clone()),
        Expr::MatrixSelector(ms) => out.push(ms.vs.clone()),
        Expr::Subquery(sq) => selectors_of(&sq.expr, out),
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                selectors_of(p, out);
            }
            selectors_of(&a.expr, out);
        }
        Expr::Unary(u) => selectors_of(&u.expr, out),
        Expr::Binary(b) => {
            selectors_of(&b.lhs, out);
            selectors_of(&b.rhs, out);
        }
        Expr::Paren(p) => selectors_of(&p.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors_of(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn selector_matches(vs: &VectorSelector, metric: &str, labels: &[(String, String)]) -> bool {
    let get = |name: &str| {
        if name == "__name__" {
            metric
        } else {
            labels
                .iter()
                .find(|(k, _)| k == name)
                .map_or("", |(_, v)| v.as_str())
        }
    };
    vs.name.as_deref().is_none_or(|n| n == metric)
        && vs
            .matchers
            .matchers
            .iter()
            .all(|m| m.is_match(get(&m.name)))
        && (vs.matchers.or_matchers.is_empty()
            || vs
                .matchers
                .or_matchers
                .iter()
                .any(|g| g.iter().all(|m| m.is_match(get(&m.name)))))
}

/// Prometheus `/api/v1/query_exemplars`: the exemplars of every series the query's
/// selectors match, in `start_ns..=end_ns`, grouped by series.
pub fn exemplars(
    st: &QueryState,
    tenant: &str,
    query: &str,
    start_ns: i64,
    end_ns: i64,
) -> Result<Json, QueryError> {
    let expr = osprey_promql::parse(query)?;
    let mut selectors = Vec::new();
    selectors_of(&expr, &mut selectors);
    let found = st.storage.exemplars().query(
        tenant,
        start_ns.div_euclid(1_000_000),
        end_ns.div_euclid(1_000_000),
        &|metric, labels| {
            selectors
                .iter()
                .any(|vs| selector_matches(vs, metric, labels))
        },
    );
    let mut groups: Vec<(Labels, Vec<Json>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for e in found {
        let mut pairs = e.series_labels.clone();
        pairs.push(("__name__".to_string(), e.metric.clone()));
        let series = Labels::new(pairs);
        let labels: serde_json::Map<String, Json> = e
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect();
        let item = json!({
            "labels": labels,
            "value": format_value(e.value),
            "timestamp": secs(e.timestamp_ms),
        });
        match index.get(&series) {
            Some(&i) => groups[i].1.push(item),
            None => {
                index.insert(series.clone(), groups.len());
                groups.push((series, vec![item]));
            }
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Json::Array(
        groups
            .into_iter()
            .map(|(l, ex)| json!({"seriesLabels": metric_json(&l), "exemplars": ex}))
            .collect(),
    ))
}

/// Series matching any of the `match[]` selectors, each once.
pub fn matching_series(
    st: &QueryState,
    tenant: &str,
    selectors: &[String],
) -> Result<Vec<Arc<Series>>, QueryError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for sel in selectors {
        // Depth-checked like every query.
        let expr = osprey_promql::parse_selector(sel)
            .map_err(|e| QueryError::BadData(format!("invalid parameter \"match[]\": {e}")))?;
        let Expr::VectorSelector(vs) = expr else {
            return Err(QueryError::BadData(format!(
                "invalid parameter \"match[]\": {sel} is not a series selector"
            )));
        };
        for s in resolve(st, tenant, &vs) {
            if seen.insert(s.id) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Prometheus `/api/v1/series`: the label sets of the matching series, by labels.
pub fn series_matching(
    st: &QueryState,
    tenant: &str,
    selectors: &[String],
    limit: Option<usize>,
) -> Result<Vec<Json>, QueryError> {
    let mut labels: Vec<Labels> = matching_series(st, tenant, selectors)?
        .iter()
        .map(|s| labels_of(s))
        .collect();
    labels.sort();
    if let Some(l) = limit {
        labels.truncate(l);
    }
    Ok(labels.iter().map(metric_json).collect())
}

/// `/api/v1/labels` (`label` None) or `/api/v1/label/{label}/values`, over the series
/// the selectors match or all of them.
pub fn label_list(
    st: &QueryState,
    tenant: &str,
    selectors: &[String],
    label: Option<&str>,
    limit: Option<usize>,
) -> Result<Vec<String>, QueryError> {
    let mut out: Vec<String> = if selectors.is_empty() {
        match label {
            None => st.storage.series().label_names(tenant),
            Some(l) => st.storage.series().label_values(tenant, l),
        }
    } else {
        let mut set = std::collections::BTreeSet::new();
        for s in matching_series(st, tenant, selectors)? {
            match label {
                None => {
                    set.insert("__name__".to_string());
                    set.extend(s.labels.iter().map(|(k, _)| k.clone()));
                }
                Some(l) => {
                    let v = s.get(l);
                    if !v.is_empty() {
                        set.insert(v.to_string());
                    }
                }
            }
        }
        set.into_iter().collect()
    };
    out.sort();
    out.dedup();
    if let Some(l) = limit {
        out.truncate(l);
    }
    Ok(out)
}

type Predicate<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// Series matching a selector through the series index: its name and matchers, or
/// any of its `or` groups. No sample is read.
fn resolve(st: &QueryState, tenant: &str, vs: &VectorSelector) -> Vec<Arc<Series>> {
    let index = st.storage.series();
    let name_pred = vs.name.clone().map(|n| move |v: &str| v == n);
    let select = |group: &[promql_parser::label::Matcher]| {
        let preds: Vec<(String, Predicate<'_>)> = group
            .iter()
            .map(|m| {
                let f: Predicate<'_> = Box::new(move |v: &str| m.is_match(v));
                (m.name.clone(), f)
            })
            .collect();
        let mut matchers: Vec<Matcher<'_>> = preds
            .iter()
            .map(|(n, f)| Matcher {
                name: n.as_str(),
                matches: f.as_ref(),
            })
            .collect();
        if let Some(p) = &name_pred {
            matchers.push(Matcher {
                name: "__name__",
                matches: p,
            });
        }
        index.select(tenant, &matchers)
    };
    if vs.matchers.or_matchers.is_empty() {
        return select(&vs.matchers.matchers);
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for group in &vs.matchers.or_matchers {
        let mut g = vs.matchers.matchers.clone();
        g.extend(group.iter().cloned());
        for s in select(&g) {
            if seen.insert(s.id) {
                out.push(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_times_render_like_prometheus() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(secs(1_700_000_000_000), json!(1_700_000_000));
        assert_eq!(secs(1_700_000_000_250), json!(1_700_000_000.25));
    }
}
