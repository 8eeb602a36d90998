//! PromQL over storage: fetches the samples a query's selectors need (series index,
//! then a samples scan pruned by series id and time) and runs `osprey-promql`'s
//! evaluator on a blocking thread under the query's deadline. [`evaluate`] returns the
//! evaluator's typed value (the seam the API and rule evaluation share);
//! `api/prometheus_json.rs` renders it. The metadata endpoints' engines (series,
//! label names and values, exemplars) are in `metadata.rs`, also typed.

use std::time::{Duration, Instant};

use osprey_promql::{Data, Limits, PromqlError, Query, RawSeries, Selection, Value};
use osprey_storage::series::SeriesSamples;
use promql_parser::parser::Expr;

use crate::{QueryError, QueryState};

mod metadata;
pub use metadata::{
    ExemplarGroup, Range, exemplars, exemplars_here, label_list, matching_series, metric_metadata,
    series_labels,
};
use metadata::{labels_of, resolve};

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
    let expr = osprey_promql::parse_cached(req.query)?;
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
    let cfg = &st.config_for(tenant);
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
    let order = result_order(&expr);
    let synced = sync_metrics(st, tenant).await?;
    let reads = resolve_all(st, tenant, &selections, &limits)?;
    // One blocking task reads the samples and evaluates (one hop off the async workers).
    let storage = st.storage.clone();
    let tenant = tenant.to_string();
    let work = tokio::task::spawn_blocking(osprey_storage::partial::carry(move || {
        let data = read_samples(&storage, &tenant, reads, &limits, synced)?;
        osprey_promql::evaluate(&expr, &q, &data, &limits)
            .map(|v| (v, q))
            .map_err(|e| match e {
                PromqlError::Timeout(_) => QueryError::Timeout(timeout),
                other => other.into(),
            })
    }));
    let (value, q) = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| QueryError::Timeout(timeout))?
        .map_err(|e| QueryError::Internal(format!("query evaluation stopped: {e}")))??;
    Ok(Evaluation {
        value,
        query: q,
        order,
    })
}

/// On a querier, the ingesters' unflushed samples, with the series they name added to
/// the index so that selectors find them (`Storage::sync_metrics`, off the async
/// workers); `None` on a node that holds its own rows.
pub(crate) async fn sync_metrics(
    st: &QueryState,
    tenant: &str,
) -> Result<Option<osprey_storage::Snapshot>, QueryError> {
    if !st.storage.reads_ingesters() {
        return Ok(None);
    }
    let (storage, tenant) = (st.storage.clone(), tenant.to_string());
    tokio::task::spawn_blocking(osprey_storage::partial::carry(move || {
        storage.sync_metrics(&tenant)
    }))
    .await
    .map_err(|e| QueryError::Internal(format!("reading the ingesters' samples stopped: {e}")))?
    .map_err(QueryError::from)
}

/// A selection and the series its selector matches.
type Resolved = (
    Selection,
    Vec<std::sync::Arc<osprey_storage::series::Series>>,
);

/// Each selection's series through the index (no sample read), checked against
/// `query.max_series`.
fn resolve_all(
    st: &QueryState,
    tenant: &str,
    selections: &[Selection],
    limits: &Limits,
) -> Result<Vec<Resolved>, QueryError> {
    let mut resolved = Vec::with_capacity(selections.len());
    for sel in selections {
        let series = resolve(st, tenant, &sel.selector);
        if series.len() > limits.max_series {
            return Err(QueryError::Execution(format!(
                "selector {} matches {} series, more than max_series ({}; query.max_series, limits.max_series per tenant)",
                sel.key,
                series.len(),
                limits.max_series
            )));
        }
        resolved.push((sel.clone(), series));
    }
    Ok(resolved)
}

/// Reads the samples of every selection's series (the head for recent ones, the
/// memtable and the `series_id` pages of files for older ones); blocking.
fn read_samples(
    storage: &osprey_storage::Storage,
    tenant: &str,
    resolved: Vec<Resolved>,
    limits: &Limits,
    synced: Option<osprey_storage::Snapshot>,
) -> Result<Data, QueryError> {
    let reader = storage.sample_reader_with(tenant, synced);
    let mut data = Data::default();
    let mut loaded = 0usize;
    for (sel, series) in resolved {
        let mut ids: Vec<u64> = series.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut read = if ids.is_empty() {
            Vec::new()
        } else {
            reader.read(
                &ids,
                sel.start.saturating_mul(1_000_000),
                // Whole milliseconds: a sample at end + 0.9 ms still belongs to `end`.
                sel.end.saturating_mul(1_000_000).saturating_add(999_999),
            )?
        };
        loaded += read.iter().map(SeriesSamples::len).sum::<usize>();
        if loaded > limits.max_samples {
            return Err(QueryError::Execution(
                "query processing would load too many samples into memory in query execution"
                    .into(),
            ));
        }
        let mut raw: Vec<RawSeries> = Vec::with_capacity(ids.len());
        for s in &series {
            let Ok(at) = ids.binary_search(&s.id) else {
                continue;
            };
            let samples = std::mem::take(&mut read[at]);
            if samples.is_empty() {
                continue;
            }
            let (ts, vals) = in_millis(samples);
            raw.push(RawSeries {
                labels: labels_of(s),
                ts,
                vals,
            });
        }
        raw.sort_by(|a, b| a.labels.cmp(&b.labels));
        data.insert(sel.key.clone(), raw);
    }
    Ok(data)
}

/// One series' samples as the engine takes them: sorted by time, in milliseconds, one
/// sample a millisecond (of two in one millisecond the later-read one wins, stably:
/// the head and each file give runs in order, so there is often nothing to sort). The
/// vectors read are reused in place.
fn in_millis(mut samples: SeriesSamples) -> (Vec<i64>, Vec<f64>) {
    samples.sort();
    let SeriesSamples { mut ts, mut vals } = samples;
    let mut kept = 0usize;
    for i in 0..ts.len() {
        let t = ts[i].div_euclid(1_000_000);
        if kept > 0 && ts[kept - 1] == t {
            vals[kept - 1] = vals[i];
            continue;
        }
        ts[kept] = t;
        vals[kept] = vals[i];
        kept += 1;
    }
    ts.truncate(kept);
    vals.truncate(kept);
    (ts, vals)
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
