//! LogQL metric queries at one instant over a tenant's logs, for log rules (and the
//! Loki API next): each range's lines are read through the log search's scan (file
//! pruning by time; the service through the full-text index), grouped into streams,
//! and handed to `osprey_logql::logql::evaluate`.
//!
//! Stream labels, as Loki users expect them: a record's resource attributes with Loki's
//! OTLP naming (`service.name` → `service_name`: characters other than letters, digits
//! and `_` become `_`), and `service_name` = the record's service when no attribute
//! gives one. A `service` matcher compares the service when the stream has no `service`
//! label, so `{service="api"}` selects what the rest of Osprey calls service `api`.
//! A record's own attributes are its structured metadata: labels of that line only.

use std::collections::HashMap;

use arrow::array::{RecordBatch, StringArray};
use osprey_logql::logql::{self, Data, Labels, Line, LogExpr, LogRange, MetricExpr, Stream, Value};
use osprey_logql::search::Expr;
use osprey_storage::{Signal, Snapshot, Storage};

use super::search::{Loc, Search, Visitor, scan};
use crate::columns::{Maps, strings};
use crate::{QueryError, QueryState};

/// Most bytes of log lines one query's ranges may hold at once.
pub const MAX_LINE_BYTES: usize = 256 << 20;

/// Evaluates a metric query at `t_ns` over the tenant's logs.
pub async fn instant(
    st: &QueryState,
    tenant: &str,
    expr: &MetricExpr,
    t_ns: i64,
) -> Result<Value, QueryError> {
    let storage = st.storage.clone();
    let tenant = tenant.to_string();
    let expr = expr.clone();
    st.blocking("logql", move || {
        let snap = storage.snapshot(&tenant, Signal::Logs);
        let mut data = Data::new();
        let mut budget = MAX_LINE_BYTES;
        for r in expr.ranges() {
            data.insert(r.id, streams(&storage, &snap, r, t_ns, &mut budget)?);
        }
        Ok(logql::evaluate(&expr, t_ns, &data)?)
    })
    .await
}

/// The streams a range selects in its window at `t_ns`, lines oldest first, after the
/// line filters that lead its pipeline.
fn streams(
    storage: &Storage,
    snap: &Snapshot,
    r: &LogRange,
    t_ns: i64,
    budget: &mut usize,
) -> Result<Vec<Stream>, QueryError> {
    let (start, end) = logql::window(r, t_ns);
    let search = Search {
        expr: prefilter(&r.log),
        start_ns: start.saturating_add(1),
        end_ns: end,
    };
    let mut c = Collector {
        log: &r.log,
        budget,
        streams: HashMap::new(),
        cols: None,
    };
    scan(storage, snap, &search, &mut c)?;
    let mut out: Vec<Stream> = c.streams.into_values().collect();
    for s in &mut out {
        s.entries.sort_by_key(|l| l.ts_ns);
    }
    Ok(out)
}

/// What the scan can check before the rows are read: the service, when the selector
/// names `service_name` exactly.
fn prefilter(log: &LogExpr) -> Expr {
    let services: Vec<Expr> = log
        .matchers
        .iter()
        .filter(|m| m.name == "service_name" && m.op == logql::MatchOp::Eq)
        .map(|m| Expr::Service(m.value.clone()))
        .collect();
    match services.len() {
        0 => Expr::All,
        _ => Expr::And(services),
    }
}

/// A record's stream labels (see the module doc).
pub fn stream_labels(resource: Vec<(String, String)>, service: &str) -> Labels {
    let mut labels: Labels = resource
        .into_iter()
        .map(|(k, v)| (logql::pipeline::sanitize_label_name(&k), v))
        .collect();
    if !labels.contains_key("service_name") && !service.is_empty() {
        labels.insert("service_name".into(), service.to_string());
    }
    labels.retain(|_, v| !v.is_empty());
    labels
}

/// Whether a stream is selected, `service` falling back to the record's service.
fn selects(log: &LogExpr, labels: &Labels, service: &str) -> bool {
    log.matchers.iter().all(|m| {
        let v = match labels.get(&m.name) {
            Some(v) => v.as_str(),
            None if m.name == "service" => service,
            None => "",
        };
        m.matches(v)
    })
}

struct Collector<'a> {
    log: &'a LogExpr,
    budget: &'a mut usize,
    streams: HashMap<Labels, Stream>,
    /// body, service, resource, attributes.
    cols: Option<(StringArray, StringArray, Maps, Maps)>,
}

impl Visitor for Collector<'_> {
    fn columns(&self) -> &[&'static str] {
        &["body", "service", "resource", "attributes"]
    }

    fn begin_batch(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        self.cols = Some((
            strings(b, "body")?,
            strings(b, "service")?,
            Maps::new(b, "resource")?,
            Maps::new(b, "attributes")?,
        ));
        Ok(())
    }

    fn visit(&mut self, ts: i64, _b: &RecordBatch, i: usize, _loc: Loc) -> Result<(), QueryError> {
        let Some((body, service, resource, attributes)) = &self.cols else {
            return Err(QueryError::Internal(
                "logql scan visited before a batch".into(),
            ));
        };
        let (line, service) = (body.value(i), service.value(i));
        if !self
            .log
            .leading_line_filters()
            .all(|f| logql::pipeline::line_matches(f, line))
        {
            return Ok(());
        }
        let labels = stream_labels(resource.row(i), service);
        if !selects(self.log, &labels, service) {
            return Ok(());
        }
        *self.budget = self.budget.checked_sub(line.len()).ok_or_else(|| {
            QueryError::Execution(format!(
                "the query's ranges select more than {} MiB of log lines: narrow the selector, add line filters or shorten the range",
                MAX_LINE_BYTES >> 20
            ))
        })?;
        self.streams
            .entry(labels.clone())
            .or_insert_with(|| Stream {
                labels,
                entries: Vec::new(),
            })
            .entries
            .push(Line {
                ts_ns: ts,
                line: line.to_string(),
                metadata: attributes.row(i),
            });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_labels_follow_lokis_otlp_naming() {
        let otlp = stream_labels(
            vec![
                ("service.name".into(), "checkout".into()),
                ("k8s.pod.name".into(), "p-1".into()),
                ("empty".into(), String::new()),
            ],
            "checkout",
        );
        let pairs: Vec<(&str, &str)> = otlp.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [("k8s_pod_name", "p-1"), ("service_name", "checkout")]
        );
        // Loki push labels stay as they are; the service fills in `service_name`.
        let loki = stream_labels(vec![("app".into(), "api".into())], "api");
        assert_eq!(loki.get("service_name").map(String::as_str), Some("api"));
        let Ok(logql::Query::Log(sel)) = logql::parse(r#"{service="api", app=~"a.*"}"#) else {
            panic!("a log query")
        };
        assert!(selects(&sel, &loki, "api"));
        assert!(!selects(&sel, &loki, "web"));
    }
}
