//! LogQL over a tenant's logs, for log rules and the Loki API: metric queries at one
//! instant ([`instant`]) or at every step of a range ([`range`]), and log queries
//! ([`logs`]). Each range's lines are read once for the whole query through the log
//! search's scan (file pruning by time; the service through the full-text index),
//! grouped into streams, and handed to `osprey_logql::logql` (which runs each line
//! through its pipeline once, however many steps' windows hold it).
//!
//! Stream labels and structured metadata are Loki's data model over Osprey's records
//! (`osprey_logql::logql::streams`).

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use arrow::array::{Int32Array, RecordBatch, StringArray};
use osprey_logql::logql::{
    self, Data, Labels, Line, LogExpr, LogRange, MetricExpr, Stream, Value, detected_level_pair,
    selects_stream, stream_labels,
};
use osprey_logql::search::Expr;
use osprey_storage::FileMeta;
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
        let data = range_lines(&storage, &tenant, &expr, t_ns, t_ns)?;
        Ok(logql::evaluate(&expr, t_ns, &data)?)
    })
    .await
}

/// The lines of each range of `expr` for steps from `first` to `last` (ns): from the
/// first step's window start to the last step's window end, within one line budget.
fn range_lines(
    storage: &Storage,
    tenant: &str,
    expr: &MetricExpr,
    first: i64,
    last: i64,
) -> Result<Data, QueryError> {
    let snap = storage.snapshot(tenant, Signal::Logs);
    let mut data = Data::new();
    let mut budget = MAX_LINE_BYTES;
    for r in expr.ranges() {
        let span = (logql::window(r, first).0, logql::window(r, last).1);
        data.insert(r.id, streams(storage, &snap, r, span, &mut budget)?);
    }
    Ok(data)
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
        let data = range_lines(&storage, &tenant, &expr, steps[0], steps[steps.len() - 1])?;
        let prepared = logql::prepare(&expr, &data, &steps)?;
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

/// The streams a range selects in its `(lo, hi]` window, lines oldest first, after the
/// line filters that lead its pipeline.
fn streams(
    storage: &Storage,
    snap: &Snapshot,
    r: &LogRange,
    (lo, hi): (i64, i64),
    budget: &mut usize,
) -> Result<Vec<Stream>, QueryError> {
    let search = Search {
        expr: prefilter(&r.log),
        start_ns: lo.saturating_add(1),
        end_ns: hi,
    };
    let mut c = Collector {
        log: &r.log,
        budget,
        streams: HashMap::new(),
        cols: LineColumns::default(),
        last: None,
    };
    scan(storage, snap, &search, &mut c)?;
    let mut out: Vec<Stream> = c.streams.into_values().collect();
    for s in &mut out {
        s.entries.sort_by_key(|l| l.ts_ns);
    }
    Ok(out)
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
        let snap = storage.snapshot(&tenant, Signal::Logs);
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
/// names `service_name` exactly, and the leading `|=` filters, whose words the
/// full-text index looks up (`textquery::contains_query`); the rows it names are then
/// checked against the exact filters.
pub fn prefilter(log: &LogExpr) -> Expr {
    let mut parts: Vec<Expr> = log
        .matchers
        .iter()
        .filter(|m| m.name == "service_name" && m.op == logql::MatchOp::Eq)
        .map(|m| Expr::Service(m.value.clone()))
        .collect();
    for f in log.leading_line_filters() {
        if f.op != logql::LineOp::Contains {
            continue;
        }
        let mut any: Vec<Expr> = f
            .values
            .iter()
            .map(|v| Expr::BodyContains(v.clone()))
            .collect();
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

/// The columns a LogQL scan reads of a batch (body, service, resource, attributes,
/// severity), and the checks every line goes through first.
#[derive(Default)]
struct LineColumns(Option<(StringArray, StringArray, Maps, Maps, Int32Array)>);

/// A kept row: its line, stream labels and structured metadata.
type Selected<'a> = (&'a str, Labels, Vec<(String, String)>);

/// A row's line and structured metadata.
type LineOf<'a> = (&'a str, Vec<(String, String)>);

const LINE_COLUMNS: &[&str] = &[
    "body",
    "service",
    "resource",
    "attributes",
    "severity_number",
];

impl LineColumns {
    fn load(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        let severity = b
            .column_by_name("severity_number")
            .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
            .cloned()
            .ok_or_else(|| QueryError::Internal("logs batch has no severity_number".into()))?;
        self.0 = Some((
            strings(b, "body")?,
            strings(b, "service")?,
            Maps::new(b, "resource")?,
            Maps::new(b, "attributes")?,
            severity,
        ));
        Ok(())
    }

    /// Whether rows `i` and `j` are of one stream (same service and resource).
    fn same_stream(&self, i: usize, j: usize) -> bool {
        self.0.as_ref().is_some_and(|(_, service, resource, _, _)| {
            service.value(i) == service.value(j) && resource.same_row(i, j)
        })
    }

    /// Row `i`'s line and structured metadata when the query's leading line filters
    /// keep it, without its stream labels (see [`Self::same_stream`]).
    fn line_of(&self, log: &LogExpr, i: usize) -> Result<Option<LineOf<'_>>, QueryError> {
        let Some((body, _, _, attributes, severity)) = &self.0 else {
            return Err(QueryError::Internal(
                "logql scan visited before a batch".into(),
            ));
        };
        let line = body.value(i);
        if !log
            .leading_line_filters()
            .all(|f| logql::pipeline::line_matches(f, line))
        {
            return Ok(None);
        }
        let mut metadata = attributes.row(i);
        metadata.push(detected_level_pair(severity.value(i)));
        Ok(Some((line, metadata)))
    }

    /// Row `i`'s stream labels, when the query's selector keeps its stream.
    fn stream_of(&self, log: &LogExpr, i: usize) -> Option<Labels> {
        let (_, service, resource, _, _) = self.0.as_ref()?;
        let service = service.value(i);
        let labels = stream_labels(resource.row(i), service);
        selects_stream(log, &labels, service).then_some(labels)
    }

    /// Row `i`'s line, stream labels and structured metadata (its attributes and
    /// `detected_level`), when the query's leading line filters and its selector keep it.
    fn selected(&self, log: &LogExpr, i: usize) -> Result<Option<Selected<'_>>, QueryError> {
        let Some((line, metadata)) = self.line_of(log, i)? else {
            return Ok(None);
        };
        Ok(self
            .stream_of(log, i)
            .map(|labels| (line, labels, metadata)))
    }
}

struct Collector<'a> {
    log: &'a LogExpr,
    budget: &'a mut usize,
    streams: HashMap<Labels, Stream>,
    cols: LineColumns,
    /// The last row whose stream was decided in this batch, and that stream (`None`:
    /// the selector refused it): the next row of the same stream reuses it.
    last: Option<(usize, Option<Labels>)>,
}

impl Visitor for Collector<'_> {
    fn columns(&self) -> &[&'static str] {
        LINE_COLUMNS
    }

    fn begin_batch(&mut self, b: &RecordBatch) -> Result<(), QueryError> {
        self.last = None;
        self.cols.load(b)
    }

    fn visit(&mut self, ts: i64, _b: &RecordBatch, i: usize, _loc: Loc) -> Result<(), QueryError> {
        let Some((line, metadata)) = self.cols.line_of(self.log, i)? else {
            return Ok(());
        };
        // Rows of a stream mostly come together: its labels are built once per run.
        let stream = match self.last.take() {
            Some((j, stream)) if self.cols.same_stream(i, j) => stream,
            _ => self.cols.stream_of(self.log, i),
        };
        if let Some(labels) = &stream {
            self.keep(ts, labels, line.to_string(), metadata)?;
        }
        self.last = Some((i, stream));
        Ok(())
    }
}

impl Collector<'_> {
    /// Adds a kept line to its stream, within the query's byte budget.
    fn keep(
        &mut self,
        ts: i64,
        labels: &Labels,
        line: String,
        metadata: Vec<(String, String)>,
    ) -> Result<(), QueryError> {
        *self.budget = self.budget.checked_sub(line.len()).ok_or_else(|| {
            QueryError::Execution(format!(
                "the query's ranges select more than {} MiB of log lines: narrow the selector, add line filters or shorten the range",
                MAX_LINE_BYTES >> 20
            ))
        })?;
        let line = Line {
            ts_ns: ts,
            line,
            metadata,
        };
        match self.streams.get_mut(labels) {
            Some(s) => s.entries.push(line),
            None => {
                self.streams.insert(
                    labels.clone(),
                    Stream {
                        labels: labels.clone(),
                        entries: vec![line],
                    },
                );
            }
        }
        Ok(())
    }
}
