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
//! ([`Extractor::wants_metadata`]). `sum(…)` is `sum by () (…)` here.
//!
//! Where such a range starts with `| json` and reads only labels after it, a caller
//! that has the lines' `| json` labels already (a store that parsed them when it wrote
//! them) feeds those instead of the lines ([`Extractor::parsed_json_labels`],
//! [`Extractor::push_parsed`]); lines of one stream with the same labels then go
//! through the pipeline once.

use std::collections::{BTreeMap, HashMap};

use super::ast::*;
use super::eval::{Extracted, finish_labels, unwrapped};
use super::json;
use super::pipeline::{self, Entry};
use crate::LogQueryError;

/// A line's structured metadata and what its pipeline gave with them (its series and
/// value, or nothing), under the key of its parsed labels.
type Remembered = (Vec<(String, String)>, Option<(usize, f64)>);

/// Most metadata sets remembered under one key: past that, lines of the key are run
/// through the pipeline one by one.
const MEMO_METADATA: usize = 8;

/// A line as `| json` found it, for [`Extractor::push_parsed`].
#[derive(Debug, Clone, Copy)]
pub struct ParsedLine<'l> {
    /// Its labels (at least those [`Extractor::parsed_json_labels`] names), `None` when
    /// it is not a JSON object.
    pub labels: Option<&'l [(&'l str, &'l str)]>,
    /// A key of those labels: lines of one stream with one key give one answer.
    pub key: Option<&'l [u64]>,
}

/// The group of an aggregation without `by` or `without`.
static NO_LABELS: Grouping = Grouping {
    without: false,
    labels: Vec::new(),
};

/// Most answers [`Extractor::push_parsed`] remembers at once.
const MAX_MEMO: usize = 1 << 16;

/// A line as an extractor is fed it: its text, or what `| json` found in it.
enum LineIn<'l> {
    Raw(&'l str),
    Parsed(Option<&'l [(&'l str, &'l str)]>),
}

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
    /// Each series' place in `points`, by labels.
    series: HashMap<Labels, usize>,
    points: Vec<Vec<(i64, f64)>>,
    /// What a parsed line's pipeline gave (its series and value, or nothing), by the
    /// caller's key of its parsed labels, for the lines of the current stream.
    memo: HashMap<Vec<u64>, Vec<Remembered>>,
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
                // `sum(…)` is `sum by () (…)`.
                Some((agg, None)) if grouping.is_none() && reducible(agg, *op) => Some(&NO_LABELS),
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
            points: Vec::new(),
            memo: HashMap::new(),
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
        self.memo.clear();
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
        self.push_line(ts, LineIn::Raw(line), metadata)
    }

    /// The labels `| json` must give each line for [`Self::push_parsed`], when this
    /// range's lines may be fed parsed instead of read: its pipeline starts with a
    /// parameterless `| json` and no later stage reads the line, its value is not the
    /// line's size, and the labels that reach its samples are known. Each name is as
    /// [`super::json_labels`] gives it (a wanted `x_extracted` asks for `x`).
    pub fn parsed_json_labels(&self) -> Option<Vec<String>> {
        let (first, rest) = self.range.log.pipeline.split_first()?;
        let Stage::Json(params) = first else {
            return None;
        };
        if !params.is_empty() || self.reads_line_after(rest) {
            return None;
        }
        let wanted = self.wanted.as_ref()?;
        // The stage's error details are not kept with a parsed line.
        if wanted.iter().any(|w| w == pipeline::ERROR_DETAILS_LABEL) {
            return None;
        }
        let mut names: Vec<String> = wanted
            .iter()
            .filter(|w| *w != pipeline::ERROR_LABEL)
            .flat_map(|w| {
                let base = w.strip_suffix("_extracted").map(str::to_string);
                std::iter::once(w.clone()).chain(base)
            })
            .collect();
        names.sort();
        names.dedup();
        Some(names)
    }

    /// Whether this range reads its lines at all: not when its pipeline has only label
    /// filters, `drop` and `keep` and its value is not the line's size. A caller may
    /// then feed [`Self::push_parsed`] without reading them.
    pub fn reads_line(&self) -> bool {
        self.reads_line_after(&self.range.log.pipeline)
    }

    /// Whether `stages` (the range's, or the rest after its `| json`) or the range's
    /// value read the line.
    fn reads_line_after(&self, stages: &[Stage]) -> bool {
        let reads =
            |s: &Stage| !matches!(s, Stage::LabelFilter(_) | Stage::Drop(_) | Stage::Keep(_));
        stages.iter().any(reads) || matches!(self.op, RangeOp::BytesOverTime | RangeOp::BytesRate)
    }

    /// [`Self::push`] of a line the caller does not read: for a range that reads none
    /// ([`Self::reads_line`]), or one whose `| json` labels the caller has (`None`: not a
    /// JSON object), holding at least the names [`Self::parsed_json_labels`] gives.
    ///
    /// `key`, when given, stands for the parsed labels: lines of one stream with one key
    /// and the same metadata go through the pipeline once, the next ones reuse its
    /// answer (the caller keeps keys apart across its sources with
    /// [`Self::forget_keys`]).
    pub fn push_parsed(
        &mut self,
        ts: i64,
        line: ParsedLine<'_>,
        metadata: &[(String, String)],
    ) -> Result<(), LogQueryError> {
        let ParsedLine {
            labels: parsed,
            key,
        } = line;
        let Some(key) = key else {
            return self.push_line(ts, LineIn::Parsed(parsed), metadata);
        };
        if !self.in_a_window(ts) {
            return Ok(());
        }
        let known = self.memo.get(key).and_then(|seen| {
            seen.iter()
                .find(|(m, _)| m.as_slice() == metadata)
                .map(|(_, answer)| *answer)
        });
        if let Some(answer) = known {
            if let Some((i, value)) = answer {
                self.points[i].push((ts, value));
                self.samples += 1;
            }
            return Ok(());
        }
        let answer = match self.sample(ts, LineIn::Parsed(parsed), metadata)? {
            Some((labels, value)) => {
                let i = self.add(ts, labels, value);
                Some((i, value))
            }
            None => None,
        };
        // Bounded: a stream whose lines all differ keeps no more than this.
        if self.memo.len() >= MAX_MEMO {
            self.memo.clear();
        }
        let seen = self.memo.entry(key.to_vec()).or_default();
        if seen.len() < MEMO_METADATA {
            seen.push((metadata.to_vec(), answer));
        }
        Ok(())
    }

    /// Drops what [`Self::push_parsed`] remembered by key (the caller's keys change
    /// meaning, e.g. from one file to the next).
    pub fn forget_keys(&mut self) {
        self.memo.clear();
    }

    /// Adds a sample to its series; returns the series' place.
    fn add(&mut self, ts: i64, labels: Labels, value: f64) -> usize {
        self.samples += 1;
        match self.series.get(&labels) {
            Some(&i) => {
                self.points[i].push((ts, value));
                i
            }
            None => {
                let i = self.points.len();
                self.series.insert(labels, i);
                self.points.push(vec![(ts, value)]);
                i
            }
        }
    }

    fn push_line(
        &mut self,
        ts: i64,
        line: LineIn<'_>,
        metadata: &[(String, String)],
    ) -> Result<(), LogQueryError> {
        if !self.in_a_window(ts) {
            return Ok(());
        }
        let Some((labels, value)) = self.sample(ts, line, metadata)? else {
            return Ok(());
        };
        self.add(ts, labels, value);
        Ok(())
    }

    /// Runs `e` through the range's pipeline from `line`; `false` when a stage drops it.
    fn run(&self, e: &mut Entry<'_>, line: &LineIn<'_>) -> bool {
        let stages = &self.range.log.pipeline;
        match line {
            LineIn::Raw(_) => pipeline::run(stages, e),
            LineIn::Parsed(parsed) => match stages.split_first() {
                Some((Stage::Json(_), rest)) => {
                    json::apply_parsed(e, *parsed);
                    pipeline::run(rest, e)
                }
                // No stage reads the line.
                _ => pipeline::run(stages, e),
            },
        }
    }

    /// A line's labels and value, `None` when the pipeline (or `unwrap`) drops it.
    fn sample(
        &mut self,
        ts: i64,
        line: LineIn<'_>,
        metadata: &[(String, String)],
    ) -> Result<Option<(Labels, f64)>, LogQueryError> {
        let r = self.range;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if let LineIn::Raw(text) = line {
            buf.push_str(text);
        }
        let mut e = Entry {
            stream: &self.stream,
            labels: self.cut.clone().unwrap_or_else(|| self.stream.clone()),
            line: buf,
            ts_ns: ts,
            wanted: self.wanted.as_deref(),
        };
        e.add_metadata(metadata);
        let kept = self.run(&mut e, &line);
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
                let text = match line {
                    LineIn::Raw(text) => text,
                    LineIn::Parsed(_) => "",
                };
                let mut e = Entry::new(&self.stream, text);
                e.ts_ns = ts;
                e.add_metadata(metadata);
                self.run(&mut e, &line);
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
        let mut theirs = other.points;
        for (labels, j) in other.series {
            let points = std::mem::take(&mut theirs[j]);
            match self.series.get(&labels) {
                Some(&i) => self.points[i].extend(points),
                None => {
                    self.series.insert(labels, self.points.len());
                    self.points.push(points);
                }
            }
        }
    }

    /// The range's samples, grouped by its own `by`, each series oldest first.
    pub fn finish(self) -> Extracted {
        // In label order, so that equal times of one group keep one order every run.
        let mut points = self.points;
        let mut raw: Vec<(Labels, Vec<(i64, f64)>)> = self
            .series
            .into_iter()
            .map(|(labels, i)| (labels, std::mem::take(&mut points[i])))
            .collect();
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
