//! Aggregates over the records a log search matches: a histogram of match counts in
//! time buckets (optionally split by severity or service), and the top values of each
//! field. Both use the search's scan (`search::scan`), so they count exactly what
//! a search with the same query and range counts.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{AsArray, Int32Array, RecordBatch};
use serde::Serialize;

use super::search::{Loc, Search, Visitor, scan};
use crate::columns::{Maps, rfc3339, strings};
use crate::{QueryError, QueryState};
use osprey_logql::level_of;
use osprey_logql::search::Expr;

use super::filter::{self, Language};
use osprey_storage::{Signal, Snapshot, Storage};

const LEVEL_NAMES: [&str; 7] = ["unset", "trace", "debug", "info", "warn", "error", "fatal"];

/// Bucket sizes a histogram picks from (ms), smallest first.
const STEPS_MS: [i64; 16] = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
    1_800_000, 3_600_000, 10_800_000, 21_600_000, 86_400_000,
];

/// Most buckets an automatic step produces.
const TARGET_BUCKETS: i64 = 120;
/// Most buckets a request may ask for.
const MAX_BUCKETS: i64 = 11_000;

/// Split a histogram by this.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SplitBy {
    Severity,
    Service,
}

impl SplitBy {
    pub fn parse(s: &str) -> Result<Option<Self>, QueryError> {
        match s {
            "" => Ok(None),
            "severity" | "level" => Ok(Some(SplitBy::Severity)),
            "service" => Ok(Some(SplitBy::Service)),
            other => Err(QueryError::BadData(format!(
                "invalid parameter \"by\": {other:?}; expected severity or service"
            ))),
        }
    }
}

/// What to aggregate over.
#[derive(Debug, Default)]
pub struct StatsParams {
    pub query: String,
    pub language: Language,
    pub service: Option<String>,
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
}

impl StatsParams {
    pub(crate) fn expr(&self) -> Result<Expr, QueryError> {
        filter::expr(self.language, &self.query, self.service.as_deref())
    }
}

#[derive(Debug, Serialize)]
pub struct Bucket {
    /// Start of the bucket, RFC 3339.
    pub start: String,
    pub start_ns: i64,
    pub count: u64,
    /// Counts per severity level or service, when split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<BTreeMap<String, u64>>,
}

#[derive(Debug, Serialize)]
pub struct Histogram {
    pub step_ms: i64,
    pub buckets: Vec<Bucket>,
    pub matched: usize,
}

/// The time range of a snapshot's records (for ranges the request leaves open).
fn bounds(snap: &Snapshot) -> Option<(i64, i64)> {
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    for f in &snap.files {
        lo = lo.min(f.min_time_ns);
        hi = hi.max(f.max_time_ns);
    }
    for b in &snap.batches {
        if let Some(ts) = b.column_by_name("timestamp") {
            let ts = ts.as_primitive::<arrow::datatypes::TimestampNanosecondType>();
            if let (Some(a), Some(z)) = (arrow::compute::min(ts), arrow::compute::max(ts)) {
                lo = lo.min(a);
                hi = hi.max(z);
            }
        }
    }
    (lo <= hi).then_some((lo, hi))
}

/// The buckets of a histogram-like answer: `n` buckets of `step_ns` from `first` (a
/// multiple of the step, like Grafana's and Loki's), covering `start_ns..=end_ns`.
pub(crate) struct Window {
    pub start_ns: i64,
    pub end_ns: i64,
    pub step_ms: i64,
    pub step_ns: i64,
    pub first: i64,
    pub n: usize,
}

impl Window {
    /// The window of the request's range (open ends: the data's), with `step_ms` or an
    /// automatic step; `None` when there is no data.
    pub(crate) fn of(
        snap: &Snapshot,
        start: Option<i64>,
        end: Option<i64>,
        step_ms: Option<i64>,
    ) -> Result<Option<Window>, QueryError> {
        let Some((lo, hi)) = bounds(snap) else {
            return Ok(None);
        };
        let (start_ns, end_ns) = (start.unwrap_or(lo), end.unwrap_or(hi));
        if end_ns < start_ns {
            return Err(QueryError::BadData("end is before start".into()));
        }
        let step_ms = step_ms.unwrap_or_else(|| auto_step_ms(start_ns, end_ns));
        let step_ns = step_ms.saturating_mul(1_000_000);
        let first = start_ns.div_euclid(step_ns) * step_ns;
        let n = (end_ns - first).div_euclid(step_ns) + 1;
        if n > MAX_BUCKETS {
            return Err(QueryError::BadData(format!(
                "{n} buckets of {step_ms} ms is too many (at most {MAX_BUCKETS}); use a larger step"
            )));
        }
        Ok(Some(Window {
            start_ns,
            end_ns,
            step_ms,
            step_ns,
            first,
            n: n as usize,
        }))
    }
}

/// The smallest listed step that keeps the range within [`TARGET_BUCKETS`].
pub fn auto_step_ms(start_ns: i64, end_ns: i64) -> i64 {
    let span_ms = (end_ns.saturating_sub(start_ns) / 1_000_000).max(1);
    STEPS_MS
        .iter()
        .copied()
        .find(|s| span_ms / s < TARGET_BUCKETS)
        .unwrap_or_else(|| ((span_ms + TARGET_BUCKETS - 1) / TARGET_BUCKETS).max(86_400_000))
}

struct HistogramVisitor {
    start_ns: i64,
    step_ns: i64,
    by: Option<SplitBy>,
    counts: Vec<u64>,
    /// Per bucket, counts per severity level (indexes of [`LEVEL_NAMES`]).
    levels: Vec<[u64; LEVEL_NAMES.len()]>,
    /// Per bucket, counts per service.
    services: Vec<HashMap<String, u64>>,
    /// The current batch's split column.
    severity: Option<Int32Array>,
    service: Option<arrow::array::StringArray>,
}

impl HistogramVisitor {
    /// The split counts of bucket `i`, by name.
    fn split(&mut self, i: usize) -> Option<BTreeMap<String, u64>> {
        match self.by? {
            SplitBy::Severity => Some(
                LEVEL_NAMES
                    .iter()
                    .zip(self.levels[i])
                    .filter(|(_, c)| *c > 0)
                    .map(|(name, c)| (name.to_string(), c))
                    .collect(),
            ),
            SplitBy::Service => Some(std::mem::take(&mut self.services[i]).into_iter().collect()),
        }
    }
}

impl Visitor for HistogramVisitor {
    fn columns(&self) -> &[&'static str] {
        match self.by {
            None => &[],
            Some(SplitBy::Severity) => &["severity_number"],
            Some(SplitBy::Service) => &["service"],
        }
    }

    fn begin_batch(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        match self.by {
            None => {}
            Some(SplitBy::Severity) => {
                self.severity = Some(
                    b.column_by_name("severity_number")
                        .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
                        .cloned()
                        .ok_or_else(|| QueryError::Internal("no severity_number".into()))?,
                );
            }
            Some(SplitBy::Service) => self.service = Some(strings(b, "service")?),
        }
        Ok(())
    }

    fn visit(&mut self, ts: i64, _b: &RecordBatch, i: usize, _loc: Loc) -> Result<(), QueryError> {
        let idx = (ts - self.start_ns).div_euclid(self.step_ns);
        let Some(idx) = usize::try_from(idx).ok().filter(|x| *x < self.counts.len()) else {
            return Ok(());
        };
        self.counts[idx] += 1;
        if let Some(sev) = &self.severity {
            self.levels[idx][level_of(sev.value(i)) as usize] += 1;
        } else if let Some(svc) = &self.service {
            let key = svc.value(i);
            let split = &mut self.services[idx];
            match split.get_mut(key) {
                Some(c) => *c += 1,
                None => {
                    split.insert(key.to_string(), 1);
                }
            }
        }
        Ok(())
    }
}

/// Match counts per time bucket.
pub async fn histogram(
    st: &QueryState,
    tenant: &str,
    p: &StatsParams,
    step_ms: Option<i64>,
    by: Option<SplitBy>,
) -> Result<Histogram, QueryError> {
    let expr = p.expr()?;
    let storage = st.storage.clone();
    let tenant = tenant.to_string();
    let (start, end) = (p.start_ns, p.end_ns);
    st.blocking("histogram", move || {
        let snap = storage.read_snapshot(&tenant, Signal::Logs)?;
        let Some(w) = Window::of(&snap, start, end, step_ms)? else {
            return Ok(Histogram {
                step_ms: step_ms.unwrap_or(STEPS_MS[0]),
                buckets: Vec::new(),
                matched: 0,
            });
        };
        let (first, step_ns, n) = (w.first, w.step_ns, w.n);
        let mut v = HistogramVisitor {
            start_ns: first,
            step_ns,
            by,
            counts: vec![0; n],
            levels: vec![[0; LEVEL_NAMES.len()]; if by == Some(SplitBy::Severity) { n } else { 0 }],
            services: vec![HashMap::new(); if by == Some(SplitBy::Service) { n } else { 0 }],
            severity: None,
            service: None,
        };
        let search = Search {
            expr,
            start_ns: w.start_ns,
            end_ns: w.end_ns,
        };
        let matched = scan(&storage, &snap, &search, &mut v)?;
        let buckets = (0..n)
            .map(|i| {
                let s = first + i as i64 * step_ns;
                Bucket {
                    start: rfc3339(s),
                    start_ns: s,
                    count: v.counts[i],
                    by: v.split(i),
                }
            })
            .collect();
        Ok(Histogram {
            step_ms: w.step_ms,
            buckets,
            matched,
        })
    })
    .await
}

#[derive(Debug, Serialize)]
pub struct FieldValue {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Serialize)]
pub struct FieldSummary {
    /// `service`, `severity`, `attributes.<key>` or `resource.<key>` (Loki's stream
    /// labels land in the resource).
    pub field: String,
    /// Records that have the field.
    pub count: u64,
    /// Distinct values seen (at most [`MAX_DISTINCT`]; `distinct_capped` says when
    /// more were dropped from the counts).
    pub distinct: usize,
    pub distinct_capped: bool,
    pub values: Vec<FieldValue>,
}

#[derive(Debug, Serialize)]
pub struct Fields {
    pub fields: Vec<FieldSummary>,
    pub matched: usize,
}

/// Most distinct values counted per field (bounds memory).
pub const MAX_DISTINCT: usize = 10_000;

#[derive(Default)]
struct FieldCounts {
    count: u64,
    values: HashMap<String, u64>,
    capped: bool,
}

impl FieldCounts {
    fn add(&mut self, v: &str) {
        self.count += 1;
        if let Some(c) = self.values.get_mut(v) {
            *c += 1;
        } else if self.values.len() < MAX_DISTINCT {
            self.values.insert(v.to_string(), 1);
        } else {
            self.capped = true;
        }
    }
}

#[derive(Default)]
struct FieldsVisitor {
    fields: BTreeMap<String, FieldCounts>,
    /// The current batch's columns.
    cols: Option<(arrow::array::StringArray, Int32Array, Maps, Maps)>,
}

impl Visitor for FieldsVisitor {
    fn columns(&self) -> &[&'static str] {
        &["service", "severity_number", "attributes", "resource"]
    }

    fn begin_batch(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        let sev = b
            .column_by_name("severity_number")
            .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
            .cloned()
            .ok_or_else(|| QueryError::Internal("no severity_number".into()))?;
        self.cols = Some((
            strings(b, "service")?,
            sev,
            Maps::new(b, "attributes")?,
            Maps::new(b, "resource")?,
        ));
        Ok(())
    }

    fn visit(&mut self, _ts: i64, _b: &RecordBatch, i: usize, _loc: Loc) -> Result<(), QueryError> {
        let Some((service, sev, attrs, resource)) = &self.cols else {
            return Err(QueryError::Internal("fields: batch not begun".into()));
        };
        self.fields
            .entry("service".into())
            .or_default()
            .add(service.value(i));
        self.fields
            .entry("severity".into())
            .or_default()
            .add(LEVEL_NAMES[level_of(sev.value(i)) as usize]);
        for (k, v) in attrs.row(i) {
            self.fields
                .entry(format!("attributes.{k}"))
                .or_default()
                .add(&v);
        }
        for (k, v) in resource.row(i) {
            self.fields
                .entry(format!("resource.{k}"))
                .or_default()
                .add(&v);
        }
        Ok(())
    }
}

/// The `top` most frequent values of every field among the matches.
pub async fn fields(
    st: &QueryState,
    tenant: &str,
    p: &StatsParams,
    top: usize,
) -> Result<Fields, QueryError> {
    let expr = p.expr()?;
    let storage: Storage = st.storage.clone();
    let tenant = tenant.to_string();
    let search = Search {
        expr,
        start_ns: p.start_ns.unwrap_or(i64::MIN),
        end_ns: p.end_ns.unwrap_or(i64::MAX),
    };
    st.blocking("fields", move || {
        let snap = storage.read_snapshot(&tenant, Signal::Logs)?;
        let mut v = FieldsVisitor::default();
        let matched = scan(&storage, &snap, &search, &mut v)?;
        let fields = v
            .fields
            .into_iter()
            .map(|(field, c)| {
                let distinct = c.values.len();
                let mut values: Vec<FieldValue> = c
                    .values
                    .into_iter()
                    .map(|(value, count)| FieldValue { value, count })
                    .collect();
                values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
                values.truncate(top);
                FieldSummary {
                    field,
                    count: c.count,
                    distinct,
                    distinct_capped: c.capped,
                    values,
                }
            })
            .collect();
        Ok(Fields { fields, matched })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_step_keeps_buckets_few() {
        let s = 1_000_000_000i64;
        assert_eq!(auto_step_ms(0, 60 * s), 1_000);
        assert_eq!(auto_step_ms(0, 3600 * s), 60_000);
        assert_eq!(auto_step_ms(0, 2 * 3600 * s), 60_000 * 2);
        assert_eq!(auto_step_ms(0, 7 * 86400 * s), 10_800_000);
        assert_eq!(auto_step_ms(5, 5), 1_000);
        for span in [1, 59, 3601, 86_399, 7 * 86_400, 400 * 86_400] {
            let step = auto_step_ms(0, span * s);
            assert!(span * 1000 / step < TARGET_BUCKETS + 1, "{span}: {step}");
        }
        assert_eq!(SplitBy::parse("level").unwrap(), Some(SplitBy::Severity));
        assert!(SplitBy::parse("x").is_err());
    }
}
