//! LogQL over a tenant's logs, for log rules and the Loki API: metric queries at one
//! instant ([`instant`]) or at every step of a range ([`range`]), and log queries
//! ([`logs`]). Each range's lines are read once for the whole query through the log
//! scan (file pruning by time; the service and leading `|=` filters through the
//! full-text index), files in parallel, and each line goes from the scanned columns
//! straight into the range's `osprey_logql` extractor (one per scan thread, merged
//! after), which runs it through its pipeline once, however many steps' windows hold
//! it, and keeps only its sample: memory is bounded by [`MAX_SAMPLES`], not by the
//! lines' bytes.
//!
//! Stream labels and structured metadata are Loki's data model over Osprey's records
//! (`osprey_logql::logql::streams`).

use std::collections::{BTreeMap, BinaryHeap};
use std::sync::atomic::AtomicUsize;

use arrow::array::RecordBatch;
use osprey_logql::logql::{
    self, Extractor, Labels, Line, LogExpr, MetricExpr, Prepared, Stream, Value,
};
use osprey_logql::search::{Expr, ServiceRegex};
use osprey_storage::FileMeta;
use osprey_storage::{Signal, Snapshot, Storage};

use super::lines::{Collector, LINE_COLUMNS, LineColumns};
use super::scan::scan_each;
use super::search::{Loc, Search, Visitor, scan};
use super::textquery::regex_literals;
use crate::{QueryError, QueryState, readahead};

/// Most samples (a line's time and value, 16 bytes) one metric query's ranges may hold
/// at once: 256 MiB of them.
pub const MAX_SAMPLES: usize = (256 << 20) / 16;

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
        let prepared = extract(&storage, &tenant, &expr, &[t_ns])?;
        Ok(logql::evaluate_at(&expr, t_ns, &prepared)?)
    })
    .await
}

/// The samples of each range of `expr` for `steps` (ascending, at least one): each
/// range's lines read once, from the first step's window start to the last step's
/// window end, straight into its extractor, within one sample budget.
fn extract(
    storage: &Storage,
    tenant: &str,
    expr: &MetricExpr,
    steps: &[i64],
) -> Result<Prepared, QueryError> {
    let snap = storage.read_snapshot(tenant, Signal::Logs)?;
    let (first, last) = match (steps.first(), steps.last()) {
        (Some(f), Some(l)) => (*f, *l),
        _ => return Ok(Prepared::new()),
    };
    let mut out = Prepared::new();
    let mut budget = MAX_SAMPLES;
    for x in logql::extractors(expr, steps) {
        let r = x.range();
        let span = (logql::window(r, first).0, logql::window(r, last).1);
        let x = extract_range(storage, &snap, x, span, &mut budget)?;
        out.insert(r.id, x.finish());
    }
    Ok(out)
}

/// Most steps (after the first) a range query may have: Loki 3's limit and message.
pub const MAX_POINTS: i64 = 11_000;

/// Most series a metric query may return (Loki's default `max_query_series`).
pub const MAX_SERIES: usize = 500;

/// A range query's answer: each series' points `(t ns, value)`, by labels.
pub type Matrix = Vec<(Labels, Vec<(i64, f64)>)>;

/// The steps `start, start + step, … ≤ end` of a range query, or Loki's error.
pub fn steps(start_ns: i64, end_ns: i64, step_ns: i64) -> Result<Vec<i64>, QueryError> {
    if step_ns <= 0 {
        return Err(QueryError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    let n = (end_ns.saturating_sub(start_ns)) / step_ns;
    if n > MAX_POINTS {
        return Err(QueryError::BadData(
            "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter".into(),
        ));
    }
    Ok((0..=n.max(0)).map(|i| start_ns + i * step_ns).collect())
}

/// Evaluates a metric query at every step from `start_ns` to `end_ns`.
pub async fn range(
    st: &QueryState,
    tenant: &str,
    expr: &MetricExpr,
    start_ns: i64,
    end_ns: i64,
    step_ns: i64,
) -> Result<Matrix, QueryError> {
    let steps = steps(start_ns, end_ns, step_ns)?;
    let storage = st.storage.clone();
    let tenant = tenant.to_string();
    let expr = expr.clone();
    st.blocking("logql", move || {
        let prepared = extract(&storage, &tenant, &expr, &steps)?;
        let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        for &t in &steps {
            match logql::evaluate_at(&expr, t, &prepared)? {
                Value::Scalar(v) => series.entry(Labels::new()).or_default().push((t, v)),
                Value::Vector(v) => {
                    for s in v {
                        series.entry(s.labels).or_default().push((t, s.value));
                    }
                }
            }
            if series.len() > MAX_SERIES {
                return Err(QueryError::BadData(format!(
                    "maximum of series ({MAX_SERIES}) reached for a single query"
                )));
            }
        }
        Ok(series.into_iter().collect())
    })
    .await
}

/// Feeds the lines a range selects in its `(lo, hi]` window (after the line filters
/// that lead its pipeline) to its extractor: files in parallel, each thread into a
/// fork of it, merged at the end.
fn extract_range<'a>(
    storage: &Storage,
    snap: &Snapshot,
    mut x: Extractor<'a>,
    (lo, hi): (i64, i64),
    budget: &mut usize,
) -> Result<Extractor<'a>, QueryError> {
    let search = Search {
        expr: prefilter(&x.range().log),
        start_ns: lo.saturating_add(1),
        end_ns: hi,
    };
    let held = AtomicUsize::new(0);
    let collectors = (0..readahead::workers(usize::MAX))
        .map(|_| Collector::new(storage, x.fork(), &held, *budget))
        .collect();
    for c in scan_each(storage, snap, &search, collectors)? {
        x.merge(c.into_extractor());
    }
    *budget = budget.saturating_sub(x.samples());
    Ok(x)
}

/// The lines of a memory batch (a logs batch as it was acknowledged) that a log query
/// keeps, through its pipeline, in streams labelled as the pipeline left them, oldest
/// first: Loki's tail.
pub fn batch_streams(log: &LogExpr, b: &RecordBatch) -> Result<Vec<Stream>, QueryError> {
    let mut cols = LineColumns::default();
    cols.load(b)?;
    let ts = crate::columns::timestamps(b, "timestamp")?;
    let mut by_labels: BTreeMap<Labels, Vec<Line>> = BTreeMap::new();
    for i in 0..b.num_rows() {
        let Some((line, stream, metadata)) = cols.selected(log, i)? else {
            continue;
        };
        let Some((labels, text)) =
            logql::pipeline::process(log, &stream, (ts.value(i), line), &metadata)
        else {
            continue;
        };
        by_labels.entry(labels).or_default().push(Line {
            ts_ns: ts.value(i),
            line: text,
            metadata,
        });
    }
    Ok(by_labels
        .into_iter()
        .map(|(labels, mut entries)| {
            entries.sort_by_key(|l| l.ts_ns);
            Stream { labels, entries }
        })
        .collect())
}

/// A log query's answer: at most `limit` lines in `[start_ns, end_ns)`, the newest
/// (`forward`: the oldest), each through the query's pipeline, in streams labelled as
/// the pipeline left them, lines in the query's direction.
pub async fn logs(
    st: &QueryState,
    tenant: &str,
    expr: &LogExpr,
    (start_ns, end_ns): (i64, i64),
    limit: usize,
    forward: bool,
) -> Result<Vec<Stream>, QueryError> {
    let entries = kept_lines(st, tenant, expr, (start_ns, end_ns), limit, forward).await?;
    let mut by_labels: BTreeMap<Labels, Vec<Line>> = BTreeMap::new();
    for e in entries {
        by_labels.entry(e.labels).or_default().push(e.line);
    }
    Ok(by_labels
        .into_iter()
        .map(|(labels, entries)| Stream { labels, entries })
        .collect())
}

/// One line of [`kept_lines`]: its stream labels, the labels the pipeline left it, and
/// the line after the pipeline with its structured metadata.
#[derive(Debug)]
pub struct KeptEntry {
    pub stream: Labels,
    pub labels: Labels,
    pub line: Line,
}

/// The lines [`logs`] returns, in the query's direction, with their stream labels apart
/// (Loki's `categorize-labels`).
pub async fn kept_lines(
    st: &QueryState,
    tenant: &str,
    expr: &LogExpr,
    (start_ns, end_ns): (i64, i64),
    limit: usize,
    forward: bool,
) -> Result<Vec<KeptEntry>, QueryError> {
    let storage = st.storage.clone();
    let tenant = tenant.to_string();
    let expr = expr.clone();
    st.blocking("logql", move || {
        let snap = storage.read_snapshot(&tenant, Signal::Logs)?;
        let search = Search {
            expr: prefilter(&expr),
            start_ns,
            end_ns: end_ns.saturating_sub(1),
        };
        let mut keep = Kept {
            log: &expr,
            limit,
            forward,
            heap: BinaryHeap::new(),
            seq: 0,
            cols: LineColumns::default(),
        };
        scan(&storage, &snap, &search, &mut keep)?;
        let mut entries: Vec<KeptLine> = keep.heap.into_vec();
        entries.sort();
        Ok(entries.into_iter().map(|k| k.entry).collect())
    })
    .await
}

/// A line a log query keeps, ordered so that the heap's top is the first to drop: the
/// oldest when the newest are wanted, else the newest (ties: the later seen).
#[derive(Debug)]
struct KeptLine {
    key: (i64, u64),
    entry: KeptEntry,
}

impl PartialEq for KeptLine {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl Eq for KeptLine {}
impl PartialOrd for KeptLine {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for KeptLine {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.cmp(&o.key)
    }
}

/// Keeps the `limit` lines a log query returns (see [`logs`]).
struct Kept<'a> {
    log: &'a LogExpr,
    limit: usize,
    forward: bool,
    /// Keys are (time, seq) for `forward` (top: the newest), else (−time, seq).
    heap: BinaryHeap<KeptLine>,
    seq: u64,
    cols: LineColumns,
}

impl Kept<'_> {
    fn key(&self, ts: i64) -> i64 {
        if self.forward {
            ts
        } else {
            ts.saturating_neg()
        }
    }

    /// Whether a line at `ts` could still be returned.
    fn wants(&self, ts: i64) -> bool {
        self.heap.len() < self.limit || self.heap.peek().is_some_and(|top| self.key(ts) < top.key.0)
    }
}

impl Visitor for Kept<'_> {
    fn columns(&self) -> &[&'static str] {
        LINE_COLUMNS
    }

    fn skip_file(&self, file: &FileMeta) -> bool {
        // Files come newest first: when the newest are wanted and the heap is full of
        // newer lines, an older file cannot contribute.
        !self.forward && !self.wants(file.max_time_ns)
    }

    fn begin_batch(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        self.cols.load(b)
    }

    fn visit(&mut self, ts: i64, _b: &RecordBatch, i: usize, _loc: Loc) -> Result<(), QueryError> {
        if self.limit == 0 || !self.wants(ts) {
            return Ok(());
        }
        let Some((line, stream, metadata)) = self.cols.selected(self.log, i)? else {
            return Ok(());
        };
        let Some((labels, text)) =
            logql::pipeline::process(self.log, &stream, (ts, line), &metadata)
        else {
            return Ok(());
        };
        self.seq += 1;
        let key = (self.key(ts), self.seq);
        self.heap.push(KeptLine {
            key,
            entry: KeptEntry {
                stream,
                labels,
                line: Line {
                    ts_ns: ts,
                    line: text,
                    metadata,
                },
            },
        });
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
        Ok(())
    }
}

/// What the scan can check before the rows are read: the service, when the selector
/// names `service_name` exactly or by a regex, and the leading `|=` filters, whose words the
/// full-text index looks up (`textquery::contains_query`), and `|~` filters through the
/// literals every match of their regexes holds (`textquery::regex_literals`); the rows
/// it names are then checked against the exact filters.
pub fn prefilter(log: &LogExpr) -> Expr {
    let mut parts: Vec<Expr> = log
        .matchers
        .iter()
        .filter(|m| m.name == "service_name")
        .filter_map(|m| match (m.op, &m.re) {
            (logql::MatchOp::Eq, _) => Some(Expr::Service(m.value.clone())),
            // A regex that matches no name at all would keep records without a
            // service, which the index holds no term for.
            (logql::MatchOp::Re, Some(re)) if !re.is_match("") => {
                Some(Expr::ServiceMatches(ServiceRegex {
                    pattern: m.value.clone(),
                    anchored: re.clone(),
                }))
            }
            _ => None,
        })
        .collect();
    for f in log.leading_line_filters() {
        let texts = match f.op {
            logql::LineOp::Contains => Some(f.values.clone()),
            // `|~ "a" or "b"`: a line matching one holds one of its literals.
            logql::LineOp::Regex => f
                .values
                .iter()
                .map(|v| regex_literals(v, false))
                .collect::<Option<Vec<_>>>()
                .map(|texts| texts.concat()),
            _ => None,
        };
        let Some(texts) = texts else { continue };
        let mut any: Vec<Expr> = texts.into_iter().map(Expr::BodyContains).collect();
        parts.push(match any.len() {
            1 => any.remove(0),
            _ => Expr::Or(any),
        });
    }
    match parts.len() {
        0 => Expr::All,
        _ => Expr::And(parts),
    }
}
