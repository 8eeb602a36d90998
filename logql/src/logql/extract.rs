//! A range's samples, extracted line by line as the caller reads them: each line in
//! some step's window goes through the range's pipeline (and `unwrap`) once, however
//! many windows hold it, and only its sample is kept (time, value, labels), never the
//! line. The caller (the query engine's scan, or [`super::prepare`] over lines already
//! read) feeds each stream's lines after [`Extractor::set_stream`].
//!
//! Under `sum by (…) (count_over_time(…))` and the like (see [`reducible`]) each
//! line's labels are cut to the group's at once, so the pipeline's parsers extract only
//! the labels the group and later stages read ([`pipeline::required_labels`]), and a
//! caller can leave out the structured metadata no stage reads
//! ([`Extractor::wants_metadata`]).

use std::collections::{BTreeMap, HashMap};

use super::ast::*;
use super::eval::{Extracted, finish_labels, unwrapped};
use super::pipeline::{self, Entry};
use crate::LogQueryError;

/// Extracts one range node's samples (see the module doc).
pub struct Extractor<'a> {
    op: RangeOp,
    range: &'a LogRange,
    /// The range's own `by`/`without` (`count_over_time(…) by (a)`).
    grouping: Option<&'a Grouping>,
    /// The outer aggregation's group, when lines may be cut to it at once.
    reduce: Option<&'a Grouping>,
    steps: &'a [i64],
    /// The labels parsers need to add (`None`: all).
    wanted: Option<Vec<String>>,
    /// The stream of the lines being fed, and under `reduce` the part of its labels
    /// anything reads.
    stream: Labels,
    cut: Option<Labels>,
    series: HashMap<Labels, Vec<(i64, f64)>>,
    samples: usize,
    /// The last line's buffer, reused for the next (a line is copied into its entry).
    buf: String,
}

/// The extractors of every range of `expr`, for steps `steps` (ascending).
pub fn extractors<'a>(expr: &'a MetricExpr, steps: &'a [i64]) -> Vec<Extractor<'a>> {
    let mut out = Vec::new();
    range_nodes(expr, None, steps, &mut out);
    out
}

/// Whether `outer by (…)` over `op` gives the same as `op` over the group's merged
/// samples: `sum by (a) (count_over_time(…))` adds the series of a group, and so would
/// the range function, so each line's labels can be cut to the group's at once (a
/// `| json` line is otherwise a series of its own). Likewise `max by` over
/// `max_over_time`, `min by` over `min_over_time`.
fn reducible(outer: AggOp, op: RangeOp) -> bool {
    matches!(
        (outer, op),
        (
            AggOp::Sum,
            RangeOp::CountOverTime
                | RangeOp::Rate
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::SumOverTime
        ) | (AggOp::Max, RangeOp::MaxOverTime)
            | (AggOp::Min, RangeOp::MinOverTime)
    )
}

/// The range nodes of `e`; `outer` is the aggregation directly around `e`, if any.
fn range_nodes<'a>(
    e: &'a MetricExpr,
    outer: Option<(AggOp, Option<&'a Grouping>)>,
    steps: &'a [i64],
    out: &mut Vec<Extractor<'a>>,
) {
    match e {
        MetricExpr::Range {
            op,
            range,
            grouping,
            ..
        } => {
            let reduce = match outer {
                // Only `by`: a `without` group keeps labels the lines decide.
                Some((agg, Some(g))) if !g.without && grouping.is_none() && reducible(agg, *op) => {
                    Some(g)
                }
                _ => None,
            };
            out.push(Extractor::new(*op, range, grouping.as_ref(), reduce, steps));
        }
        MetricExpr::Aggregate {
            op,
            grouping,
            inner,
            ..
        } => range_nodes(inner, Some((*op, grouping.as_ref())), steps, out),
        MetricExpr::Negate(inner) | MetricExpr::LabelReplace { inner, .. } => {
            range_nodes(inner, None, steps, out)
        }
        MetricExpr::Binary { lhs, rhs, .. } => {
            range_nodes(lhs, None, steps, out);
            range_nodes(rhs, None, steps, out);
        }
        MetricExpr::Number(_) | MetricExpr::Vector(_) => {}
    }
}

impl<'a> Extractor<'a> {
    fn new(
        op: RangeOp,
        range: &'a LogRange,
        grouping: Option<&'a Grouping>,
        reduce: Option<&'a Grouping>,
        steps: &'a [i64],
    ) -> Self {
        // Cut to a group, a line needs only the labels the group and its pipeline read.
        let wanted = reduce.and_then(|g| {
            let unwrap = range.unwrap.iter().flat_map(|u| {
                std::iter::once(u.label.as_str())
                    .chain(u.post_filters.iter().flat_map(LabelFilter::names))
            });
            pipeline::required_labels(
                &range.log.pipeline,
                g.labels.iter().map(String::as_str).chain(unwrap),
            )
        });
        Extractor {
            op,
            range,
            grouping,
            reduce,
            steps,
            wanted,
            stream: Labels::new(),
            cut: None,
            series: HashMap::new(),
            samples: 0,
            buf: String::new(),
        }
    }

    /// The range whose samples this extracts.
    pub fn range(&self) -> &'a LogRange {
        self.range
    }

    /// Samples kept so far (what they cost in memory is the caller's to bound).
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Whether a line at `ts` is in the window of some step: `ts + offset <= t < ts +
    /// offset + range`.
    pub fn in_a_window(&self, ts: i64) -> bool {
        let from = ts.saturating_add(self.range.offset_ns);
        let i = self.steps.partition_point(|t| *t < from);
        self.steps
            .get(i)
            .is_some_and(|t| *t < from.saturating_add(self.range.range_ns))
    }

    /// Whether structured metadata named `key` can reach a sample; a caller may leave
    /// out the rest.
    pub fn wants_metadata(&self, key: &str) -> bool {
        self.wanted
            .as_deref()
            .is_none_or(|w| pipeline::wanted_name(w, key).is_some())
    }

    /// The stream of the lines fed next.
    pub fn set_stream(&mut self, labels: &Labels) {
        self.stream.clone_from(labels);
        // Only the labels something reads are copied into each line's entry.
        self.cut = self.wanted.as_ref().map(|w| {
            labels
                .iter()
                .filter(|(k, _)| w.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        });
    }

    /// One line of the current stream at `ts` with its structured metadata (lines of a
    /// stream oldest first); a line outside every window is passed over.
    pub fn push(
        &mut self,
        ts: i64,
        line: &str,
        metadata: &[(String, String)],
    ) -> Result<(), LogQueryError> {
        if !self.in_a_window(ts) {
            return Ok(());
        }
        let Some((labels, value)) = self.sample(ts, line, metadata)? else {
            return Ok(());
        };
        self.samples += 1;
        match self.series.get_mut(&labels) {
            Some(points) => points.push((ts, value)),
            None => {
                self.series.insert(labels, vec![(ts, value)]);
            }
        }
        Ok(())
    }

    /// A line's labels and value, `None` when the pipeline (or `unwrap`) drops it.
    fn sample(
        &mut self,
        ts: i64,
        line: &str,
        metadata: &[(String, String)],
    ) -> Result<Option<(Labels, f64)>, LogQueryError> {
        let r = self.range;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.push_str(line);
        let mut e = Entry {
            stream: &self.stream,
            labels: self.cut.clone().unwrap_or_else(|| self.stream.clone()),
            line: buf,
            ts_ns: ts,
            wanted: self.wanted.as_deref(),
        };
        e.add_metadata(metadata);
        let kept = pipeline::run(&r.log.pipeline, &mut e);
        let value = match &r.unwrap {
            _ if !kept => None,
            None if matches!(self.op, RangeOp::BytesOverTime | RangeOp::BytesRate) => {
                Some(e.line.len() as f64)
            }
            None => Some(1.0),
            Some(u) => unwrapped(u, &mut e),
        };
        let Entry {
            labels, line: buf, ..
        } = e;
        self.buf = buf;
        let Some(value) = value else {
            return Ok(None);
        };
        let mut labels = match finish_labels(labels) {
            Ok(labels) => labels,
            // The error names the series: say it with every label, as without the cut.
            Err(err) if self.cut.is_some() => {
                let mut e = Entry::new(&self.stream, line);
                e.ts_ns = ts;
                e.add_metadata(metadata);
                pipeline::run(&r.log.pipeline, &mut e);
                finish_labels(e.labels)?;
                return Err(err);
            }
            Err(err) => return Err(err),
        };
        if let Some(g) = self.reduce {
            labels.retain(|k, _| g.labels.contains(k));
        }
        Ok(Some((labels, value)))
    }

    /// An extractor of the same range with nothing extracted yet, to feed other lines
    /// (on another thread) and [`Self::merge`] back.
    pub fn fork(&self) -> Extractor<'a> {
        Extractor::new(self.op, self.range, self.grouping, self.reduce, self.steps)
    }

    /// Adds what `other` (a [`Self::fork`], fed other lines) extracted.
    pub fn merge(&mut self, other: Extractor<'_>) {
        self.samples += other.samples;
        for (labels, points) in other.series {
            self.series.entry(labels).or_default().extend(points);
        }
    }

    /// The range's samples, grouped by its own `by`, each series oldest first.
    pub fn finish(self) -> Extracted {
        // In label order, so that equal times of one group keep one order every run.
        let mut raw: Vec<(Labels, Vec<(i64, f64)>)> = self.series.into_iter().collect();
        raw.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        for (l, points) in raw {
            let key = match self.grouping {
                Some(g) => g.group_labels(&l),
                None => l,
            };
            series.entry(key).or_default().extend(points);
        }
        for points in series.values_mut() {
            points.sort_by_key(|(ts, _)| *ts);
        }
        Extracted { series }
    }
}
