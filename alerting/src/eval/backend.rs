//! What rule evaluation reads and writes, through the same engines as every other
//! surface: instant PromQL queries through `osprey_query::promql::evaluate` (the typed
//! seam), LogQL metric queries of log rules through `osprey_query::logs::logql`,
//! samples written with `Storage::append` as any acknowledged write (so rule outputs
//! are durable, indexed and queryable by the next rule at once) or, on a cluster's
//! compactor, through a [`SampleOutput`] to the ingesters owning their series, and
//! the raw samples of one series for the restore of `for` state.

use osprey_logql::logql;
use osprey_promql::{Labels, STALE_NAN, Value};
use osprey_query::QueryState;
use osprey_query::promql::{Request, evaluate};
use osprey_storage::Signal;
use osprey_storage::schema::{SampleRow, samples_batch};
use osprey_storage::series::Matcher;

use super::{OutSample, Sample};
use crate::rules::load::Language;

/// A label matcher's test for one value.
type Equals = Box<dyn Fn(&str) -> bool>;

/// Where rule results go on a process that holds no WAL of its own (a cluster's
/// compactor: to the ingesters owning each series). Acknowledged once stored durably.
pub trait SampleOutput: Send + Sync {
    fn write<'a>(
        &'a self,
        tenant: &'a str,
        rows: Vec<SampleRow>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// Rule evaluation's access to one server's storage.
#[derive(Clone)]
pub struct Backend {
    pub query: QueryState,
    /// Where results are written; `None`: this server's own storage.
    pub output: Option<std::sync::Arc<dyn SampleOutput>>,
}

impl Backend {
    /// `expr` at `ts_ns` for `tenant`: a vector, or a scalar as one sample without
    /// labels (Prometheus' `EngineQueryFunc`).
    pub async fn instant(
        &self,
        tenant: &str,
        language: Language,
        expr: &str,
        ts_ns: i64,
    ) -> Result<Vec<Sample>, String> {
        if language == Language::LogQL {
            return self.logql(tenant, expr, ts_ns).await;
        }
        let req = Request {
            query: expr,
            start_ns: ts_ns,
            end_ns: ts_ns,
            step_ms: None,
            timeout: None,
        };
        let e = evaluate(&self.query, tenant, req)
            .await
            .map_err(|e| e.to_string())?;
        match e.value {
            Value::Vector(series) => Ok(series
                .into_iter()
                .filter_map(|s| {
                    let v = s.vals.first().copied().flatten()?;
                    Some(Sample {
                        labels: s.labels.pairs().to_vec(),
                        value: v,
                    })
                })
                .collect()),
            Value::Scalar(v) => Ok(vec![Sample {
                labels: Vec::new(),
                value: v.first().copied().unwrap_or(f64::NAN),
            }]),
            _ => Err("rule result is not a vector or scalar".into()),
        }
    }

    async fn logql(&self, tenant: &str, expr: &str, ts_ns: i64) -> Result<Vec<Sample>, String> {
        let metric = match logql::parse(expr).map_err(|e| e.to_string())? {
            logql::Query::Metric(m) => m,
            logql::Query::Log(_) => return Err("a log query cannot be a rule".into()),
        };
        let value = osprey_query::logs::logql::instant(&self.query, tenant, &metric, ts_ns)
            .await
            .map_err(|e| e.to_string())?;
        Ok(match value {
            logql::Value::Vector(v) => v
                .into_iter()
                .map(|s| Sample {
                    labels: s.labels.into_iter().collect(),
                    value: s.value,
                })
                .collect(),
            logql::Value::Scalar(v) => vec![Sample {
                labels: Vec::new(),
                value: v,
            }],
        })
    }

    /// Writes `samples` at `ts_ns` (and staleness markers for `stale`) for `tenant`.
    pub async fn write(
        &self,
        tenant: &str,
        ts_ns: i64,
        samples: &[OutSample],
        stale: &[Labels],
    ) -> Result<(), String> {
        let row = |labels: &Labels, value: f64| {
            let mut metric = String::new();
            let mut rest = Vec::with_capacity(labels.pairs().len());
            for (k, v) in labels.pairs() {
                if k == "__name__" {
                    metric = v.clone();
                } else {
                    rest.push((k.clone(), v.clone()));
                }
            }
            SampleRow {
                metric,
                labels: rest,
                timestamp_ns: ts_ns,
                value,
            }
        };
        let rows: Vec<SampleRow> = samples
            .iter()
            .map(|s| row(&s.labels, s.value))
            .chain(stale.iter().map(|l| row(l, f64::from_bits(STALE_NAN))))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        if let Some(out) = &self.output {
            return out.write(tenant, rows).await;
        }
        let batch = samples_batch(&rows).map_err(|e| e.to_string())?;
        self.query
            .storage
            .append(tenant, Signal::Metrics, batch)
            .await
            .map_err(|e| e.to_string())
    }

    /// The last raw sample (ns, value) of the series with exactly `labels` in
    /// `start_ns..=end_ns`, staleness markers included.
    pub async fn last_sample(
        &self,
        tenant: &str,
        labels: &Labels,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Option<(i64, f64)>, String> {
        let storage = self.query.storage.clone();
        let tenant = tenant.to_string();
        let labels = labels.clone();
        tokio::task::spawn_blocking(move || {
            // Reading the ingesters: the series of their unflushed samples first.
            let synced = storage.sync_metrics(&tenant).map_err(|e| e.to_string())?;
            let preds: Vec<(String, String)> = labels.pairs().to_vec();
            let eqs: Vec<Equals> = preds
                .iter()
                .map(|(_, v)| {
                    let v = v.clone();
                    Box::new(move |x: &str| x == v) as Equals
                })
                .collect();
            let matchers: Vec<Matcher<'_>> = preds
                .iter()
                .zip(&eqs)
                .map(|((n, _), f)| Matcher {
                    name: n.as_str(),
                    matches: f.as_ref(),
                })
                .collect();
            let ids: Vec<u64> = storage
                .series()
                .select(&tenant, &matchers)
                .into_iter()
                .filter(|s| s.labels.len() + 1 == preds.len())
                .map(|s| s.id)
                .collect();
            if ids.is_empty() {
                return Ok(None);
            }
            let mut ids = ids;
            ids.sort_unstable();
            ids.dedup();
            let found = storage
                .sample_reader_with(&tenant, synced)
                .read(&ids, start_ns, end_ns)
                .map_err(|e| e.to_string())?;
            Ok(found.iter().flat_map(|s| s.iter()).max_by_key(|(t, _)| *t))
        })
        .await
        .map_err(|e| e.to_string())?
    }
}
